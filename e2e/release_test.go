package e2e

import (
	"os"
	"testing"
	"time"
)

// TestReleaseIdlePilot: the only task needs 15 hours by its estimate, so
// it runs on a0, whose pilot ends in 20 hours, and never on a1, whose
// pilot ends in one. Once upstream is drained the leader releases a1's
// pilot (idle, nothing that could ever run on it), and a1 drains and
// exits 0 while the task still runs; the task then ends done on a0.
func TestReleaseIdlePilot(t *testing.T) {
	skipShort(t)
	c := newCluster(t, []string{`{"id":"long","cmd":["sleep","15"],"est_s":36000,"timeout_s":60}`})
	c.start("a0", agentOpts{bootstrap: true, extra: []string{"--end-in", "20h"}})
	a1 := c.start("a1", agentOpts{extra: []string{"--end-in", "1h"}})
	if err := a1.wait(t, 30*time.Second); err != nil {
		t.Errorf("the released agent exited with %v; its log:\n%s", err, a1.tail(30))
	}
	if a1.count(`reason="released: nothing left that could run on this pilot"`) != 1 {
		t.Errorf("a1 did not drain for its release; its log:\n%s", a1.tail(30))
	}
	if c.finished() != 0 {
		t.Errorf("the task had ended before a1 left: the release must come while work remains")
	}
	c.waitFinished(1, 60*time.Second)
}

// TestReleaseAllButOne: five agents, then one long task that the
// leader's pilot (ending soon) cannot hold and one task that fits no
// pilot. Once upstream is drained the leader releases the four idle
// pilots at once, its own and voters among them. They must hand
// leadership and their votes to the one agent that stays, not to one
// another: it keeps a quorum, leads, and records the long task's result.
func TestReleaseAllButOne(t *testing.T) {
	skipShort(t)
	margins := []string{"--drain-margin", "6s", "--walltime-margin", "2s"}
	c := newCluster(t, nil)
	c.start("a0", agentOpts{bootstrap: true, extra: append([]string{"--end-in", "25s"}, margins...)})
	lead := c.leader(30 * time.Second)
	for _, name := range []string{"a1", "a2", "a3", "a4"} {
		c.start(name, agentOpts{extra: append([]string{"--end-in", "1h"}, margins...)})
	}
	c.eventually(30*time.Second, "three voters", func() bool { return lead.count(`msg="promoted to raft voter"`) >= 2 })
	q, err := os.OpenFile(c.queue, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = q.WriteString(`{"id":"long","cmd":["sleep","20"],"est_s":20,"timeout_s":60}` + "\n" +
		`{"id":"nofit","cmd":["true"],"est_s":36000,"timeout_s":60}` + "\n")
	if cerr := q.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	c.waitFinished(1, 60*time.Second)
	released := 0
	for _, a := range c.agents {
		if a.count(`reason="released: nothing left that could run on this pilot"`) == 1 {
			released++
			if err := a.wait(t, 30*time.Second); err != nil {
				t.Errorf("released agent %s exited with %v; its log:\n%s", a.name, err, a.tail(30))
			}
		}
	}
	if released != 4 || lead.count(`reason="released: nothing left that could run on this pilot"`) != 1 {
		t.Errorf("%d agents released, want the 4 idle ones, the first leader %s among them", released, lead.name)
	}
	if res := c.results([]string{"long"}); res["long"].State != "done" {
		t.Errorf("the long task ended %q", res["long"].State)
	}
}
