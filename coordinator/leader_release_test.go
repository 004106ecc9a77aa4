package coordinator_test

import (
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
)

// TestLeaderReleasesIdlePilot: the only task needs 15 hours; pilot p1 has
// one hour left and p2 twenty. Once upstream is drained the task runs on
// p2, and p1, idle with nothing that could ever run on it, is marked
// draining (its agents then leave); p2 is not.
func TestLeaderReleasesIdlePilot(t *testing.T) {
	now := time.Now()
	r := newLeaderRig(t, 20*time.Second,
		ledger.NodeInfo{ID: "n1", Cores: 4, Pilot: "p1", Addr: "127.0.0.1:1", PilotEnd: now.Add(time.Hour).UnixNano()},
		ledger.NodeInfo{ID: "n2", Cores: 4, Pilot: "p2", Addr: "127.0.0.1:1", PilotEnd: now.Add(20 * time.Hour).UnixNano()})
	r.run(t, queueFile(t, specs("long", 1, 10*3600)))
	l := r.node.Ledger()
	for {
		v := l.View()
		if n, ok := v.Node("n1"); ok && n.Draining {
			break
		}
		if err := r.node.FSM().WaitApplied(r.ctx, v.Applied()+1); err != nil {
			t.Fatalf("pilot p1 was never released: %v (waiting %v)", err, r.leader.Waiting())
		}
	}
	v := l.View()
	if n, _ := v.Node("n2"); n.Draining {
		t.Error("pilot p2, running the long task, was released too")
	}
	if tk, ok := v.Task("long00"); !ok || tk.Node != "n2" {
		t.Errorf("the long task is not on n2: %+v", tk)
	}
}
