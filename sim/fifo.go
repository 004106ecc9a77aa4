package sim

import "github.com/pilot-hpc/pilot/coordinator/sched"

// fifo is the baseline policy, and the only placement rule the simulator
// writes itself: each queued task in queue (submission) order goes to the
// first node by id with the free cores and memory, whatever the time left
// in its pilot. Tasks that do not fit are skipped, not waited for.
func fifo(nodes []sched.Node, pending []sched.Task) []sched.Placement {
	free := make([]int, len(nodes))
	mem := make([]int64, len(nodes))
	most := 0
	for i, n := range nodes {
		if !n.Draining {
			free[i], mem[i] = n.FreeCores, n.FreeMemMB
			most = max(most, free[i])
		}
	}
	var out []sched.Placement
	for _, t := range pending {
		if t.Cores > most {
			continue
		}
		for i := range nodes {
			if free[i] >= t.Cores && mem[i] >= t.MemMB {
				free[i] -= t.Cores
				mem[i] -= t.MemMB
				out = append(out, sched.Placement{Task: t.ID, Node: nodes[i].ID})
				if free[i]+t.Cores == most {
					most = 0
					for _, f := range free {
						most = max(most, f)
					}
				}
				break
			}
		}
	}
	return out
}
