package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/sched"
	"github.com/pilot-hpc/pilot/task"
)

// TestRefillLeavesOutWalltime: the simulator's window is the leader's
// (sched.LeaseRoom): queued tasks that the round's plan left unable to use
// the room there is (here: waiting for walltime) do not count against it,
// up to one more window.
func TestRefillLeavesOutWalltime(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Window = 2
	jobs := make([]Job, 20)
	for i := range jobs {
		jobs[i] = Job{Spec: task.Spec{ID: fmt.Sprintf("t%02d", i), Cores: 4}, True: time.Minute}
	}
	nodes := []sched.Node{{ID: "a", TotalCores: 8}, {ID: "b", TotalCores: 8, Draining: true}}
	for _, c := range []struct {
		queued, walltime, want int // want: tasks leased
	}{
		{0, 0, 4},    // the window: 2 x 8 live cores
		{16, 0, 0},   // full
		{16, 12, 3},  // 12 cores of it wait for walltime
		{16, 16, 4},  // all of it waits for walltime
		{32, 32, 0},  // at most one window of them is left out
		{24, 16, 2},  // one window of walltime, half a window of work
		{10, 0, 2},   // the last task may overshoot, as before
		{16, 100, 4}, // a count larger than the queue leaves out the queue
	} {
		r := newRun(cfg, jobs)
		r.unfit = c.walltime
		if in := r.refill(nodes, c.queued); len(in.Tasks) != c.want {
			t.Errorf("queued %d cores, %d waiting for walltime: leased %d tasks, want %d", c.queued, c.walltime, len(in.Tasks), c.want)
		}
	}
}
