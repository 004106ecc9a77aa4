package ledger

// apply dispatches one command to its applyX method.
func (x *txn) apply(cmd Command) {
	switch c := cmd.(type) {
	case Ingest:
		x.applyIngest(c)
	case Assign:
		x.applyAssign(c)
	case Started:
		x.applyStarted(c)
	case Complete:
		x.applyComplete(c)
	case Fail:
		x.applyFail(c)
	case Requeue:
		x.applyRequeue(c)
	case AgentJoined:
		x.applyAgentJoined(c)
	case AgentLost:
		x.applyAgentLost(c)
	case PilotDraining:
		x.applyPilotDraining(c)
	case Acked:
		x.applyAcked(c)
	case Flush:
		x.applyFlush(c)
	case Batch:
		for _, sub := range c.Cmds {
			if _, nested := sub.(Batch); nested {
				x.out.refuse(CmdBatch, "", "", CodeInvalid, "a batch may not contain a batch")
				continue
			}
			x.apply(sub)
		}
	default:
		x.out.refuse(0, "", "", CodeInvalid, "%T is not a ledger command (pass command values, not pointers)", cmd)
	}
}

// checkAttempt refuses a report whose attempt is not the task's current one
// or whose move the transition table forbids. It reports whether to go on.
func (x *txn) checkAttempt(cmd CmdType, t *Task, attempt int, to State) bool {
	id := t.Spec.ID
	if attempt != t.Attempt {
		x.out.refuse(cmd, id, t.Node, CodeStaleAttempt, "attempt %d reported, the current attempt is %d", attempt, t.Attempt)
		return false
	}
	if !Transition(t.State, to) {
		x.out.refuse(cmd, id, t.Node, CodeIllegal, "a %s task cannot become %s", t.State, to)
		return false
	}
	return true
}

// requeue replaces the record old by nt (a copy of old, maybe with
// updated counters) at the end of the queue.
func (x *txn) requeue(old *Task, nt Task) {
	if old.Flushed {
		// Flushed while it ran: its attempt is over, and no other starts.
		x.put(old, nil)
		x.out.Dropped = append(x.out.Dropped, old.Spec.ID)
		return
	}
	nt.State = Queued
	nt.QueueSeq = x.nextSeq()
	nt.Node, nt.AssignedAt, nt.StartedAt = "", 0, 0
	x.put(old, &nt)
	x.out.Requeued = append(x.out.Requeued, old.Spec.ID)
}
