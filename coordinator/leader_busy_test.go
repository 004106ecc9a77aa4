package coordinator

import (
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/coordinator/sched"
	"github.com/pilot-hpc/pilot/task"
)

// setBusyUntil: a node's tasks are expected to end at the latest start
// (or assignment) plus estimate, own or learned; a node running a task of
// unknown runtime, and an idle one, get zero.
func TestSetBusyUntil(t *testing.T) {
	l := ledger.New()
	at := func(s int) int64 { return time.Unix(1000+int64(s), 0).UnixNano() }
	spec := func(id string, est float64) task.Spec {
		return task.Spec{ID: id, Fn: "f", Cores: 1, EstS: est, MaxAttempts: 3}
	}
	cmds := []ledger.Command{
		ledger.AgentJoined{At: at(0), Node: ledger.NodeInfo{ID: "a", Cores: 4, PilotEnd: 1e18}},
		ledger.AgentJoined{At: at(0), Node: ledger.NodeInfo{ID: "b", Cores: 4, PilotEnd: 1e18}},
		ledger.AgentJoined{At: at(0), Node: ledger.NodeInfo{ID: "c", Cores: 4, PilotEnd: 1e18}},
		ledger.AgentJoined{At: at(0), Node: ledger.NodeInfo{ID: "idle", Cores: 4, PilotEnd: 1e18}},
		ledger.Ingest{At: at(0), Tasks: []ledger.Leased{{Spec: spec("a1", 100)}, {Spec: spec("a2", 30)}, {Spec: spec("b1", 0)}, {Spec: spec("c1", 0)}}},
		ledger.Assign{At: at(10), Items: []ledger.Assignment{{Task: "a1", Node: "a", Attempt: 1}, {Task: "a2", Node: "a", Attempt: 1}, {Task: "b1", Node: "b", Attempt: 1}, {Task: "c1", Node: "c", Attempt: 1}}},
		ledger.Started{At: at(20), Items: []ledger.AttemptRef{{Task: "a2", Attempt: 1}, {Task: "c1", Attempt: 1}}},
	}
	for i, c := range cmds {
		if out := l.ApplyCommand(uint64(i+1), c); out.Err() != nil {
			t.Fatal(out.Err())
		}
	}
	learned := sched.DefaultEstimator()
	for range 5 {
		learned.Observe(sched.ShapeKey(spec("c1", 0)), time.Minute)
	}
	nodes := []sched.Node{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "idle"}}
	setBusyUntil(l.View(), nodes, learned, time.Unix(1000, 0))
	want := map[string]time.Time{
		"a":    time.Unix(1110, 0), // a1: assigned at +10, 100 s
		"b":    time.Unix(1070, 0), // b1: assigned at +10, learned 60 s
		"c":    time.Unix(1080, 0), // c1: started at +20, learned 60 s
		"idle": {},
	}
	for _, n := range nodes {
		if !n.BusyUntil.Equal(want[n.ID]) {
			t.Errorf("node %s busy until %v, want %v", n.ID, n.BusyUntil, want[n.ID])
		}
	}
	nodes = []sched.Node{{ID: "a"}, {ID: "b"}}
	setBusyUntil(l.View(), nodes, nil, time.Unix(1000, 0))
	if !nodes[0].BusyUntil.Equal(want["a"]) || !nodes[1].BusyUntil.IsZero() {
		t.Errorf("with nothing learned: %v, want a as before and b unknown (zero)", nodes)
	}
	// Each task is noted on its node for the lane rule (sched.Node.AddTask).
	nodes = []sched.Node{{ID: "a", TotalCores: 4}}
	setBusyUntil(l.View(), nodes, nil, time.Unix(1000, 0))
	if nodes[0].Widest != 1 || nodes[0].NarrowCoreS != 110+50 {
		t.Errorf("node a: widest %d, narrow work %g core-s; want 1 and 160 (a1 ends at +110, a2 at +50)", nodes[0].Widest, nodes[0].NarrowCoreS)
	}
}
