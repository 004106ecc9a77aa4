package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestBadTasksFailClearly runs a missing executable, a crash (SIGSEGV), a
// hang past timeout_s and a task that writes a 1 MB result.json among good
// tasks: each bad one ends failed with a reason that names what went
// wrong, after no more than its max_attempts, and every good task is done.
func TestBadTasksFailClearly(t *testing.T) {
	skipShort(t)
	bad := map[string]struct {
		line string
		want []string // in the result's error, case-insensitively
	}{
		"missing": {`{"id":"missing","cmd":["/nonexistent/pilot-e2e-prog"],"max_attempts":2}`, []string{"/nonexistent/pilot-e2e-prog"}},
		"crash":   {`{"id":"crash","cmd":["sh","-c","kill -SEGV $$"],"max_attempts":2}`, []string{"segmentation"}},
		"hang":    {`{"id":"hang","cmd":["sleep","60"],"timeout_s":1,"max_attempts":1}`, []string{"timeout"}},
		"bigresult": {`{"id":"bigresult","cmd":["sh","-c","head -c 1048576 /dev/zero | tr '\\000' a > \"$PILOT_WORKDIR/result.json\""],"max_attempts":1}`,
			[]string{"result.json", "limit"}},
	}
	lines, ids := sleepTasks(60, "0.02")
	for id, b := range bad {
		lines = append(lines, b.line)
		ids = append(ids, id)
	}
	c := newCluster(t, lines)
	c.startN(2, agentOpts{cores: 2, voters: 1})
	c.waitFinished(len(ids), 90*time.Second)

	res := c.results(ids)
	for id, b := range bad {
		r := res[id]
		msg := strings.ToLower(r.Error)
		t.Logf("%s: %s after %d attempts: %s", id, r.State, r.Attempts, r.Error)
		if r.State != "failed" {
			t.Errorf("task %s ended %s, want failed", id, r.State)
		}
		for _, w := range b.want {
			if !strings.Contains(msg, w) {
				t.Errorf("task %s: the error %q does not say %q", id, r.Error, w)
			}
		}
	}
	for _, id := range ids {
		if _, isBad := bad[id]; !isBad && res[id].State != "done" {
			t.Errorf("good task %s ended %s: %s", id, res[id].State, res[id].Error)
		}
	}
	atts := c.attempts()
	max := map[string]int{"missing": 2, "crash": 2, "hang": 1, "bigresult": 1}
	runs := map[string]int{}
	for _, a := range atts {
		runs[a.Task]++
	}
	for id, m := range max {
		if runs[id] > m {
			t.Errorf("task %s ran %d times; its max_attempts is %d", id, runs[id], m)
		}
	}
	checkNoSharedCores(t, atts)
}
