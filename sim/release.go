package sim

import (
	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/coordinator/sched"
)

// release ends the pilots the leader releases (sched.Releasable) once
// upstream has no more tasks and some task is not final: pilots whose
// nodes are all idle with no queued task that could start on them before
// they end. Their nodes are marked draining and leave, so their
// allocation stops counting, and the launcher decides on a successor, as
// when a pilot reaches its walltime. nodes and r.pend are what the
// round's plan was made from. The fifo baseline keeps every pilot to its
// walltime: being blind to walltime, it may just have placed a task that
// the rule says cannot fit.
func (r *run) release(nodes []sched.Node) error {
	if r.cfg.Policy != PolicyDense || r.next < len(r.jobs) || r.final == len(r.jobs) {
		return nil
	}
	for _, id := range sched.Releasable(nodes, r.pend, r.est, epoch.Add(r.now), r.cfg.Sched) {
		p := r.pilotOf[id]
		cmds := []ledger.Command{ledger.PilotDraining{At: r.at(), Pilot: id}}
		for _, n := range r.pilots[p].nodes {
			if r.nodes[n].left < 0 {
				r.nodes[n].left = r.now
				cmds = append(cmds, ledger.AgentLost{At: r.at(), Node: r.nodes[n].id})
			}
		}
		out, err := r.book.apply(cmds...)
		if err != nil {
			return err
		}
		r.finals(out)
		r.m.released++
		slot := r.pilots[p].slot
		r.slotPilot[slot] = -1
		r.launch(slot)
	}
	return nil
}
