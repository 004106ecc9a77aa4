package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// TestPausedWorkerComesBack declares a live agent lost on purpose: a worker
// is stopped (SIGSTOP) until the leader has removed it from Raft and
// requeued its tasks, then continued. It must come back: the leader sees it
// in gossip again, adds it to Raft and the ledger, and it runs new attempts
// while work remains (a busy machine makes the same false alarm).
func TestPausedWorkerComesBack(t *testing.T) {
	skipShort(t)
	const n = 300
	lines, ids := sleepTasks(2*n, "0.1")
	c := newCluster(t, lines[:n])
	c.startN(4, agentOpts{cores: 2})
	lead := c.leader(30 * time.Second)
	c.eventually(30*time.Second, "three voters", func() bool { return lead.count(`msg="promoted to raft voter"`) >= 2 })
	c.waitFinished(n/10, 60*time.Second)

	var victim *agent
	for _, a := range c.agents {
		if a != lead {
			victim = a
			break
		}
	}
	removed := `msg="removed a dead raft server" node=` + lead.name + ` member=` + victim.name + ` `
	t.Logf("stopping %s at %d results", victim.name, c.finished())
	victim.signal(t, syscall.SIGSTOP)
	c.eventually(60*time.Second, "the stopped agent removed from Raft", func() bool { return lead.count(removed) > 0 })
	victim.signal(t, syscall.SIGCONT)
	resumed := time.Now()
	t.Logf("continued %s at %d results; submitting %d more tasks", victim.name, c.finished(), n)
	// More work now, so that the queue cannot run dry before it is back
	// however long the failure detection took.
	submit := exec.Command(pilotBin, "submit", "--queue", c.queue, "-")
	submit.Stdin = strings.NewReader(strings.Join(lines[n:], "\n") + "\n")
	if out, err := submit.CombinedOutput(); err != nil {
		t.Fatalf("pilot submit: %v\n%s", err, out)
	}

	// New work: an attempt started after the pause whose result the
	// ledger took (the attempts dispatched before the pause are stale).
	c.eventually(60*time.Second, "the continued agent running new work", func() bool {
		done := map[string]task.Result{}
		for _, line := range completeLines(c.t, c.resultsPath()) {
			var r task.Result
			if err := json.Unmarshal(line, &r); err != nil {
				c.t.Fatalf("%s: %v", c.resultsPath(), err)
			}
			done[r.ID] = r
		}
		for _, line := range completeLines(c.t, filepath.Join(victim.data, "attempts.jsonl")) {
			var a attempt
			if err := json.Unmarshal(line, &a); err != nil {
				c.t.Fatalf("%s attempt log: %v", victim.name, err)
			}
			if r, ok := done[a.Task]; ok && a.Start.After(resumed) && r.Node == victim.name && r.Attempts == a.Attempt {
				return true
			}
		}
		return false
	})
	t.Logf("%s ran new work %s after it continued, at %d results", victim.name, time.Since(resumed).Round(time.Millisecond), c.finished())
	c.waitFinished(2*n, 120*time.Second)
	res := c.results(ids)
	for _, id := range ids {
		if r := res[id]; r.State != "done" {
			t.Errorf("task %s ended %s after %d attempts: %s", id, r.State, r.Attempts, r.Error)
		}
	}
	checkNoSharedCores(t, c.attempts())
}

// completeLines returns the complete lines of a file another process
// appends to (the line it may be writing is left out).
func completeLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out [][]byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if !bytes.HasSuffix(line, []byte("\n")) {
			break
		}
		out = append(out, line)
	}
	return out
}
