package sim

import (
	"fmt"
	"time"

	"github.com/pilot-hpc/pilot/batch"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
)

// launch is the pilot launcher's round when a pilot ends: the real rule,
// batch.PlanLaunch, decides from the pilots still queued or running and
// the work that remains how many to submit, and they enter the batch
// queue in the free slots (the ended pilot's first). Keep is the number of
// slots; a pilot brings its slot's nodes for the walltime, or as many as
// the plan asks for when the work left fills less than one pilot. Pilots are
// replaced at their end, not Overlap before it: the simulator's slots.
func (r *run) launch(ended int32) {
	var pilots []batch.JobStatus
	for s := range r.slots {
		switch p := r.slotPilot[s]; {
		case r.slotQueued[s]:
			pilots = append(pilots, batch.JobStatus{ID: fmt.Sprint(s), State: batch.Pending})
		case p >= 0:
			pilots = append(pilots, batch.JobStatus{ID: fmt.Sprint(s), State: batch.Running, End: epoch.Add(r.pilotEnds[p])})
		}
	}
	nodes := r.cfg.Nodes / r.cfg.Pilots
	cores := nodes * r.cfg.Cores
	plan := batch.PlanLaunch(epoch.Add(r.now), pilots, r.work(), batch.LaunchPolicy{
		Keep: r.cfg.Pilots, PilotCores: cores, PilotCoreS: float64(cores) * r.cfg.Walltime.Seconds(), Nodes: nodes,
	})
	for k := 0; k < len(r.slots) && plan.Submit > 0; k++ {
		s := (int(ended) + k) % len(r.slots)
		if r.slotQueued[s] || r.slotPilot[s] >= 0 {
			continue
		}
		r.slotQueued[s] = true
		r.q.push(event{at: r.now + r.queueWait(int32(s)), kind: evPilotArrive, slot: int32(s), nodes: int32(plan.Nodes)})
		plan.Submit--
	}
}

// work is the work that still needs a pilot, as the launcher knows it:
// the tasks not started yet (queued in the ledger or still upstream),
// their expected core-seconds and the longest expected runtime, from each
// task's own estimate or the learned one; tasks with neither count in
// Tasks only. Running tasks hold their pilots already: counting them
// would launch pilots for work that cannot move to them.
func (r *run) work() batch.Work {
	var w batch.Work
	add := func(cores int, d time.Duration) {
		w.CoreS += float64(cores) * d.Seconds()
		w.LongestS = max(w.LongestS, d.Seconds())
	}
	r.book.view().WalkQueued(func(t *ledger.Task) bool {
		w.Tasks++
		if d, ok := r.estimate(r.jobOf[t.Spec.ID]); ok {
			add(t.Spec.Cores, d)
		}
		return false
	})
	w.Tasks += len(r.jobs) - r.next
	w.Drained = r.next == len(r.jobs)
	for j := r.next; j < len(r.jobs); j++ {
		if d, ok := r.estimate(int32(j)); ok {
			add(r.jobs[j].Spec.Cores, d)
		}
	}
	return w
}

// estimate is job j's expected runtime: its own estimate, else the
// learned one.
func (r *run) estimate(j int32) (time.Duration, bool) {
	if est := seconds(r.jobs[j].Spec.EstS); est > 0 {
		return est, true
	}
	return r.est.Estimate(r.keys[j])
}
