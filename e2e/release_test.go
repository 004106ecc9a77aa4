package e2e

import (
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
