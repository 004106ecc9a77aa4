package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// TestLaunchKeepsWhatWorkUses: when a pilot ends, the launcher (the real
// batch.PlanLaunch) submits only the pilots the remaining work can use: a
// few long tasks get one pilot of the nodes they need, not one per slot;
// wide work gets every free slot, whole.
func TestLaunchKeepsWhatWorkUses(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Nodes, cfg.Pilots, cfg.Cores, cfg.Walltime = 8, 4, 8, 10*time.Hour
	for _, c := range []struct {
		name  string
		tasks int
		want  int
	}{
		{"a few long tasks", 3, 1},
		{"work for every slot", 400, 4},
	} {
		jobs := make([]Job, c.tasks)
		for i := range jobs {
			jobs[i] = Job{Spec: task.Spec{ID: fmt.Sprintf("t%03d", i), Cores: 2, EstS: 7200}, True: 2 * time.Hour}
		}
		r := newRun(cfg, jobs)
		r.q = events{}
		for s := range r.slotQueued {
			r.slotQueued[s] = false // every slot's pilot has ended
		}
		r.launch(2)
		if got := r.q.len(); got != c.want {
			t.Errorf("%s: %d pilots submitted, want %d", c.name, got, c.want)
		}
		if c.want == 1 && (r.q.peek().slot != 2 || !r.slotQueued[2]) {
			t.Errorf("%s: the pilot went to slot %d, want the ended pilot's slot 2", c.name, r.q.peek().slot)
		}
		// 3 two-hour tasks of 2 cores keep one 8-core node of a slot's 2
		// busy: the pilot asks for one.
		if nodes := r.q.peek().nodes; c.want == 1 && nodes != 1 || c.want > 1 && nodes != 0 {
			t.Errorf("%s: a pilot of %d node(s) (0: the slot's)", c.name, nodes)
		}
	}
}
