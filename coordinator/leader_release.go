package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/coordinator/sched"
)

// releaseIdle gives back the allocations of pilots that can no longer be of
// use (sched.Releasable, the simulator's rule too): once upstream has no
// more tasks and some task is not final, a pilot whose nodes are all idle
// with no queued task that could start on them before it ends is marked
// draining. Its agents see their nodes draining with nothing to run and
// leave (pilot.agent.released), which ends its Slurm job. It runs after
// the placement round, on the state that round left. With no task left
// at all it does nothing: `pilot launch` ends the pilots then, or keeps
// them waiting for more work (--keep-idle).
func (l *Leader) releaseIdle(ctx context.Context) error {
	l.mu.Lock()
	drained := l.drained
	l.mu.Unlock()
	v := l.node.Ledger().View()
	if c := v.Counts(); !drained || c.Queued+c.Assigned+c.Running == 0 {
		return nil
	}
	nodes := v.Nodes()
	view := make([]sched.Node, len(nodes))
	for i, n := range nodes {
		view[i] = schedNode(n)
		if n.Tasks == 0 {
			view[i].FreeCores = n.Cores - n.UsedCores
		}
		if n.PilotEnd != 0 { // unknown: never released
			view[i].PilotEnd = time.Unix(0, n.PilotEnd)
		}
	}
	var pending []sched.Task
	v.WalkQueued(func(t *ledger.Task) bool {
		pending = append(pending, schedTask(t))
		return len(pending) >= maxPlan
	})
	l.mu.Lock()
	pilots := sched.Releasable(view, pending, l.estimator, l.cfg.Now(), l.cfg.Sched)
	l.mu.Unlock()
	for _, p := range pilots {
		l.log.Info("releasing an idle pilot: upstream is drained and no queued task fits its time left", "pilot", p, "queued", len(pending))
		if _, err := l.propose(ctx, ledger.PilotDraining{At: l.now(), Pilot: p}); err != nil {
			return fmt.Errorf("release idle pilot %s: %w", p, err)
		}
	}
	return nil
}
