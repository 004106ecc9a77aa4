package ledger

import (
	"fmt"
	"sort"

	"github.com/pilot-hpc/pilot/task"
)

func (x *txn) applyIngest(c Ingest) {
	for _, l := range c.Tasks {
		spec := l.Spec
		spec.ApplyDefaults()
		if err := spec.Validate(); err != nil {
			x.out.refuse(CmdIngest, spec.ID, "", CodeInvalid, "%v", err)
			continue
		}
		if t, ok := x.task(spec.ID); ok {
			x.out.refuse(CmdIngest, spec.ID, "", CodeDuplicateTask, "the ledger already holds it (%s, attempt %d)", t.State, t.Attempt)
			continue
		}
		x.put(nil, &Task{Spec: spec, Lease: l.Lease, State: Queued, IngestedAt: c.At, QueueSeq: x.nextSeq()})
		x.out.Applied++
	}
}

func (x *txn) applyAssign(c Assign) {
	for _, a := range c.Items {
		t, ok := x.task(a.Task)
		if !ok {
			x.out.refuse(CmdAssign, a.Task, a.Node, CodeUnknownTask, "no such task in the ledger")
			continue
		}
		if !Transition(t.State, Assigned) {
			x.out.refuse(CmdAssign, a.Task, a.Node, CodeIllegal, "a %s task cannot become assigned", t.State)
			continue
		}
		if a.Attempt != t.Attempt+1 {
			x.out.refuse(CmdAssign, a.Task, a.Node, CodeStaleAttempt, "assign carries attempt %d, the next attempt is %d", a.Attempt, t.Attempt+1)
			continue
		}
		n, ok := x.node(a.Node)
		switch {
		case !ok:
			x.out.refuse(CmdAssign, a.Task, a.Node, CodeUnknownNode, "no such node in the ledger")
			continue
		case n.Draining:
			x.out.refuse(CmdAssign, a.Task, a.Node, CodeDraining, "pilot %s is draining", n.Pilot)
			continue
		case t.Spec.Cores > n.FreeCores() && n.Prefetch > 0:
			x.out.refuse(CmdAssign, a.Task, a.Node, CodeOversubscribed, "the task needs %d cores, the node has %d of %d and a prefetch of %d free", t.Spec.Cores, n.FreeCores(), n.Cores, n.Prefetch)
			continue
		case t.Spec.Cores > n.FreeCores():
			x.out.refuse(CmdAssign, a.Task, a.Node, CodeOversubscribed, "the task needs %d cores, the node has %d of %d free", t.Spec.Cores, n.FreeCores(), n.Cores)
			continue
		case n.MemMB > 0 && t.Spec.MemMB > n.FreeMemMB():
			x.out.refuse(CmdAssign, a.Task, a.Node, CodeOversubscribed, "the task needs %d MB, the node has %d of %d MB free", t.Spec.MemMB, n.FreeMemMB(), n.MemMB)
			continue
		}
		nt := *t
		nt.State = Assigned
		nt.Attempt = a.Attempt
		nt.QueueSeq = 0
		nt.Node = a.Node
		nt.AssignedAt = c.At
		x.put(t, &nt)
		x.out.Applied++
	}
}

func (x *txn) applyStarted(c Started) {
	for _, r := range c.Items {
		t, ok := x.task(r.Task)
		if !ok {
			x.out.refuse(CmdStarted, r.Task, "", CodeUnknownTask, "no such task in the ledger")
			continue
		}
		if !x.checkAttempt(CmdStarted, t, r.Attempt, Running) {
			continue
		}
		nt := *t
		nt.State = Running
		nt.StartedAt = c.At
		x.put(t, &nt)
		x.out.Applied++
	}
}

func (x *txn) applyComplete(c Complete) {
	for _, r := range c.Items {
		t, ok := x.task(r.Task)
		if !ok {
			x.out.refuse(CmdComplete, r.Task, "", CodeUnknownTask, "no such task in the ledger (never ingested, acked or flushed)")
			continue
		}
		if t.State.Final() {
			x.out.Duplicates = append(x.out.Duplicates, r.Task)
			x.counts.Duplicates++
			continue
		}
		if !x.checkAttempt(CmdComplete, t, r.Attempt, Done) || (t.State == Queued && !x.checkLate(t, r)) {
			continue
		}
		if len(r.Result.Value) > task.MaxValueBytes {
			x.out.refuse(CmdComplete, r.Task, t.Node, CodeInvalid, "the result value is %d bytes, the limit is %d; stage it as an output", len(r.Result.Value), task.MaxValueBytes)
			continue
		}
		res := r.Result
		if res.ExitCode != 0 {
			msg := res.Error
			if msg == "" {
				msg = fmt.Sprintf("exit code %d", res.ExitCode)
			}
			x.fail(t, FailTask, msg, &res)
			x.out.Applied++
			continue
		}
		res.ID, res.State, res.Attempts = t.Spec.ID, task.StateDone, t.Attempt
		if t.Node != "" {
			res.Node = t.Node // a late result keeps the node its agent named
		}
		nt := *t
		nt.State = Done
		nt.QueueSeq, nt.Node, nt.AssignedAt, nt.StartedAt = 0, "", 0, 0
		nt.Result = &res
		x.put(t, &nt)
		x.out.Final = append(x.out.Final, t.Spec.ID)
		if t.State == Queued {
			x.out.Late = append(x.out.Late, t.Spec.ID)
			x.counts.Late++
		}
		x.out.Applied++
	}
}

// checkLate decides a Complete of a queued task's current attempt: the
// attempt was requeued (its node was lost, it was revoked or failed as
// infra) and the task not yet assigned again. Only its success is
// recorded: the task is done, its queue position freed, and no attempt
// runs for nothing. A failure is refused as stale: the requeue already
// dealt with the attempt, and a failure charged now would count twice
// (a report the agent sent again) or spend max_attempts on an attempt
// the ledger had written off. A task queued since its ingest (attempt 0)
// has no attempt to report. It reports whether to go on.
func (x *txn) checkLate(t *Task, r Completion) bool {
	switch {
	case t.Attempt == 0:
		x.out.refuse(CmdComplete, t.Spec.ID, "", CodeIllegal, "a queued task that was never assigned cannot become done")
		return false
	case r.Result.ExitCode != 0:
		x.out.refuse(CmdComplete, t.Spec.ID, "", CodeStaleAttempt, "attempt %d was requeued before its failure (exit code %d) arrived; it is not charged again", r.Attempt, r.Result.ExitCode)
		return false
	}
	return true
}

func (x *txn) applyFail(c Fail) {
	for _, f := range c.Items {
		t, ok := x.task(f.Task)
		if !ok {
			x.out.refuse(CmdFail, f.Task, "", CodeUnknownTask, "no such task in the ledger")
			continue
		}
		to := Queued
		switch f.Class {
		case FailFatal:
			to = Failed
		case FailTask, FailInfra:
		default:
			x.out.refuse(CmdFail, f.Task, t.Node, CodeInvalid, "failure class %q is not one of task, infra, fatal", f.Class)
			continue
		}
		if !x.checkAttempt(CmdFail, t, f.Attempt, to) {
			continue
		}
		x.fail(t, f.Class, f.Error, f.Result)
		x.out.Applied++
	}
}

// fail charges a failure to a task: it requeues it, or fails it for good
// when its attempts are spent or the class is fatal.
func (x *txn) fail(t *Task, class FailClass, msg string, res *task.Result) {
	nt := *t
	switch class {
	case FailInfra:
		nt.InfraFailures++
		x.requeue(t, nt)
	case FailTask:
		nt.TaskFailures++
		if nt.TaskFailures >= nt.Spec.MaxAttempts {
			x.finalFail(t, &nt, ReasonMaxAttempts, fmt.Sprintf("%d of %d attempts failed, the last: %s", nt.TaskFailures, nt.Spec.MaxAttempts, msg), res)
			return
		}
		x.requeue(t, nt)
	case FailFatal:
		x.finalFail(t, &nt, ReasonFatal, msg, res)
	}
}

// finalFail records the one failed result of a task. nt is a copy of old
// that may carry updated counters.
func (x *txn) finalFail(old, nt *Task, reason, msg string, res *task.Result) {
	var r task.Result
	if res != nil {
		r = *res
	}
	r.ID, r.State, r.Attempts, r.Node = old.Spec.ID, task.StateFailed, old.Attempt, old.Node
	r.Error = reason + ": " + msg
	n := *nt
	n.State = Failed
	n.Reason = reason
	n.QueueSeq, n.Node, n.AssignedAt, n.StartedAt = 0, "", 0, 0
	n.Result = &r
	x.put(old, &n)
	x.out.Final = append(x.out.Final, old.Spec.ID)
}

func (x *txn) applyRequeue(c Requeue) {
	for _, r := range c.Items {
		t, ok := x.task(r.Task)
		if !ok {
			x.out.refuse(CmdRequeue, r.Task, "", CodeUnknownTask, "no such task in the ledger")
			continue
		}
		if !x.checkAttempt(CmdRequeue, t, r.Attempt, Queued) {
			continue
		}
		x.requeue(t, *t)
		x.out.Applied++
	}
}

func (x *txn) applyAcked(c Acked) {
	for _, id := range c.Tasks {
		t, ok := x.task(id)
		if !ok {
			x.out.refuse(CmdAcked, id, "", CodeUnknownTask, "no such task in the ledger")
			continue
		}
		if !t.State.Final() {
			x.out.refuse(CmdAcked, id, t.Node, CodeIllegal, "a %s task has no result to acknowledge", t.State)
			continue
		}
		x.put(t, nil)
		x.out.Applied++
	}
}

func (x *txn) applyFlush(c Flush) {
	var drop []*Task
	x.queue.tree().Walk(func(_ uint64, t *Task) bool {
		drop = append(drop, t)
		return false
	})
	collect := func(_ string, t *Task) bool {
		drop = append(drop, t)
		return false
	}
	x.byState[Assigned].tree().Walk(collect)
	if c.Running {
		x.byState[Running].tree().Walk(collect)
	} else {
		var keep []*Task
		x.byState[Running].tree().Walk(func(_ string, t *Task) bool {
			keep = append(keep, t)
			return false
		})
		for _, t := range keep {
			nt := *t
			nt.Flushed = true
			x.put(t, &nt)
		}
	}
	sort.Slice(drop, func(i, j int) bool { return drop[i].Spec.ID < drop[j].Spec.ID })
	for _, t := range drop {
		x.put(t, nil)
		x.out.Dropped = append(x.out.Dropped, t.Spec.ID)
	}
	x.out.Applied += len(drop)
}
