package coordinator_test

import (
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/task"
)

// TestLeaderWritesTheLastResultsAtOnce: results are written upstream in
// batches, a small batch at most an Interval after the last write; but
// once no other task is live the last results go at once. With an
// Interval of an hour, the second of two results still reaches upstream.
func TestLeaderWritesTheLastResultsAtOnce(t *testing.T) {
	r := newLeaderRig(t, 20*time.Second, ledger.NodeInfo{ID: "n1", Cores: 2, Prefetch: 2})
	r.interval = time.Hour
	q := queueFile(t, specs("t", 2, 0.1))
	r.run(t, q)
	r.waitDispatches(t, func() bool { n, _ := r.assigned("t"); return n == 2 }, func() string { return "the two tasks were never assigned" })
	l := r.node.Ledger()
	for _, id := range []string{"t00", "t01"} {
		rep := coordinator.Report{Kind: coordinator.ReportCompleted, Task: id, Attempt: 1, Result: task.Result{ID: id, State: task.StateDone}}
		if err := r.leader.Report(r.ctx, []coordinator.Report{rep}); err != nil {
			t.Fatal(err)
		}
		// Acked: the task left the ledger once its result was written.
		for {
			v := l.View()
			if _, ok := v.Task(id); !ok {
				break
			}
			if err := r.node.FSM().WaitApplied(r.ctx, v.Applied()+1); err != nil {
				t.Fatalf("the result of %s was never written upstream (the leader's Interval is an hour): %v", id, err)
			}
		}
	}
	st, err := q.Status(r.ctx)
	if err != nil || st.Done != 2 {
		t.Fatalf("upstream status %+v (%v), want 2 done", st, err)
	}
}
