package sim

import (
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/coordinator/sched"
	"github.com/pilot-hpc/pilot/task"
)

// round is one scheduling round of the leader, after the events of an
// instant: acknowledge the results written upstream, place queued tasks
// with the policy, fail the unschedulable ones, and refill the ledger's
// window from upstream, all in one log entry. It reports whether it should
// run again at once: when it decided every queued task and refilled the
// window, the new tasks may fit where the others left room.
func (r *run) round() (again bool, err error) {
	v := r.book.view()
	queuedCores := r.readQueue(v)
	nodes := schedNodes(v, r.busyUntil)
	r.noteRunning(nodes)
	r.integrate(nodes)

	var cmds []ledger.Command
	if len(r.acks) > 0 {
		cmds = append(cmds, ledger.Acked{At: r.at(), Tasks: r.acks})
		r.acks = nil
	}
	places, unsched := r.plan(nodes)
	if err := r.release(nodes); err != nil {
		return false, err
	}

	if len(unsched) > 0 {
		f := ledger.Fail{At: r.at()}
		for _, u := range unsched {
			j := r.jobOf[u.Task]
			f.Items = append(f.Items, ledger.Failure{Task: u.Task, Attempt: r.attempt[j], Class: ledger.FailFatal, Error: "unschedulable: " + u.Detail})
			queuedCores -= r.jobs[j].Spec.Cores
		}
		cmds = append(cmds, f)
	}
	if len(places) > 0 {
		a := ledger.Assign{At: r.at()}
		s := ledger.Started{At: r.at()}
		for _, p := range places {
			j := r.jobOf[p.Task]
			att := r.attempt[j] + 1
			a.Items = append(a.Items, ledger.Assignment{Task: p.Task, Node: p.Node, Attempt: att})
			s.Items = append(s.Items, ledger.AttemptRef{Task: p.Task, Attempt: att})
			queuedCores -= r.jobs[j].Spec.Cores
			r.m.usedCores += r.jobs[j].Spec.Cores
			if r.m.started[j] < 0 {
				r.m.started[j] = r.now
			}
			r.q.push(event{at: r.now + r.jobs[j].True, kind: evTaskEnd, job: j, attempt: att})
			n := r.nodeOf[p.Node]
			r.running[n] = append(r.running[n], j)
			r.expect[j] = r.expectEnd(j)
		}
		cmds = append(cmds, a, s)
	}
	r.classify(nodes, places)
	in := r.refill(nodes, queuedCores)
	if len(in.Tasks) > 0 {
		cmds = append(cmds, in)
	}
	out, err := r.book.apply(cmds...)
	if err != nil {
		return false, err
	}
	r.finals(out)
	return len(in.Tasks) > 0 && len(places)+len(unsched) == len(r.pend), nil
}

// integrate adds the core-seconds used and allocated since the last
// round, and notes them when upstream has just run out of tasks. The cores
// used from now on are the ledger's before this round plus what the round
// places (round adds those).
func (r *run) integrate(nodes []sched.Node) {
	r.idle.add(r.m.lastRound, r.now)
	dt := (r.now - r.m.lastRound).Seconds()
	r.m.used += float64(r.m.usedCores) * dt
	r.m.alloc += float64(r.m.liveCores) * dt
	r.m.lastRound = r.now
	r.m.usedCores, r.m.liveCores = 0, 0
	for _, n := range nodes {
		r.m.usedCores += n.TotalCores - n.FreeCores
		r.m.liveCores += n.TotalCores
	}
	if r.next == len(r.jobs) && r.m.drainedAt == 0 {
		r.m.drainedAt, r.m.usedDrain, r.m.allocDrain = r.now, r.m.used, r.m.alloc
	}
}

// readQueue reads the ledger's queued tasks into r.pend and returns their
// cores. A queue entry keeps its position (QueueSeq) until it leaves the
// queue, so entries already read last round are reused, not converted
// again.
func (r *run) readQueue(v ledger.View) int {
	prev, prevJob := r.pend, r.pendJob
	r.pend, r.pendJob = r.spare[:0], r.spareJob[:0]
	k, cores := 0, 0
	v.WalkQueued(func(t *ledger.Task) bool {
		for k < len(prev) && prev[k].Seq < t.QueueSeq {
			k++
		}
		if k < len(prev) && prev[k].Seq == t.QueueSeq {
			r.pend, r.pendJob = append(r.pend, prev[k]), append(r.pendJob, prevJob[k])
		} else {
			j := r.jobOf[t.Spec.ID]
			r.pend = append(r.pend, sched.Task{
				ID: t.Spec.ID, Cores: t.Spec.Cores, MemMB: t.Spec.MemMB,
				Est: seconds(t.Spec.EstS), Key: r.keys[j],
				Since: time.Unix(0, t.IngestedAt), Seq: t.QueueSeq,
			})
			r.pendJob = append(r.pendJob, j)
		}
		r.attempt[r.pendJob[len(r.pendJob)-1]] = t.Attempt
		cores += t.Spec.Cores
		return false
	})
	r.spare, r.spareJob = prev, prevJob
	return cores
}

// plan asks the policy where the queued tasks go. The dense policy's
// plan also says how many cores of the tasks it left cannot use the room
// there is (r.unfit, Plan.Unfit, for refill).
func (r *run) plan(nodes []sched.Node) ([]sched.Placement, []sched.Unschedulable) {
	r.unfit = 0
	if len(r.pend) == 0 || len(nodes) == 0 {
		return nil, nil
	}
	start := time.Now()
	defer func() { r.m.placeCalls++; r.m.placeTime += time.Since(start) }()
	if r.cfg.Policy == PolicyDense {
		plan := sched.Place(sched.View{Nodes: nodes, Shapes: r.shapes, Learned: r.est, Held: r.held}, r.pend, epoch.Add(r.now), r.cfg.Sched)
		r.held = plan.Reservations
		r.unfit = plan.Unfit()
		return plan.Placements, plan.Unschedulable
	}
	var unsched []sched.Unschedulable
	for _, t := range r.pend {
		if t.Cores > r.cfg.Cores || t.MemMB > r.cfg.MemMB {
			unsched = append(unsched, sched.Unschedulable{Task: t.ID, Limit: sched.ReasonFitsNoNode, Detail: "larger than any node"})
		}
	}
	return fifo(nodes, r.pend), unsched
}

// refill leases tasks from the simulated upstream until the ledger holds
// Window times the live cores in queued work, not counting the tasks this
// round's plan left that cannot use the room there is (at most one more
// window of them): the leader's rule, sched.LeaseRoom.
func (r *run) refill(nodes []sched.Node, queuedCores int) ledger.Ingest {
	live := 0
	for _, n := range nodes {
		if !n.Draining {
			live += n.TotalCores
		}
	}
	in := ledger.Ingest{At: r.at()}
	room := sched.LeaseRoom(int(r.cfg.Window*float64(live)), queuedCores, r.unfit)
	for leased := 0; leased < room && r.next < len(r.jobs); r.next++ {
		in.Tasks = append(in.Tasks, ledger.Leased{Spec: r.jobs[r.next].Spec})
		r.m.ingested[r.next] = r.now
		leased += r.jobs[r.next].Spec.Cores
	}
	return in
}

// finals records the tasks an entry made final; their results go upstream
// and are acknowledged in the next round.
func (r *run) finals(out *ledger.Outcome) {
	if len(out.Final) == 0 {
		return
	}
	v := r.book.view()
	for _, id := range out.Final {
		t, _ := v.Task(id)
		j := r.jobOf[id]
		r.final++
		r.m.end = r.now
		if t.State == ledger.Done {
			r.m.done++
			r.m.busy += float64(t.Spec.Cores) * r.jobs[j].True.Seconds()
			r.est.Observe(r.keys[j], r.jobs[j].True)
		} else {
			r.m.failed++
		}
		r.acks = append(r.acks, id)
	}
}

// taskResult is what the agent reports when an attempt of j succeeds.
func taskResult(j Job) task.Result {
	s := j.True.Seconds()
	return task.Result{ExitCode: 0, RuntimeS: s, CoreS: s * float64(j.Spec.Cores)}
}

// at is the simulated now as the unix nanoseconds commands carry.
func (r *run) at() int64 { return epoch.Add(r.now).UnixNano() }

// queueWait draws how long the slot's next pilot waits in the batch queue.
func (r *run) queueWait(slot int32) time.Duration {
	if r.cfg.QueueWait <= 0 {
		return 0
	}
	return time.Duration(r.slots[slot].Int64N(int64(r.cfg.QueueWait)))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
