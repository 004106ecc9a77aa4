package ledger

import (
	"errors"
	"fmt"
)

// CheckInvariants checks the rules that hold after every entry: each task
// is in exactly one state and indexed exactly there; it carries the data of
// that state and no other; the counts match the records; each node's usage
// is the sum of its tasks and within its cores and memory (promise 3). It
// walks the whole state: tests and the simulator run it after every step.
func (v View) CheckInvariants() error {
	s := v.s
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	type use struct {
		cores int
		mem   int64
		tasks int
	}
	used := map[string]use{}
	var counts Counts
	s.tasks.Walk(func(k string, t *Task) bool {
		id := t.Spec.ID
		if k != id {
			bad("task %q is stored under key %q", id, k)
		}
		counts.add(t.State, 1)
		if msg := stateDataError(t); msg != "" {
			bad("task %q (%s): %s", id, t.State, msg)
		}
		if t.State == Queued {
			if q, ok := s.queue.Get(t.QueueSeq); !ok || q != t {
				bad("task %q is queued but not at its queue position %d", id, t.QueueSeq)
			}
			if t.QueueSeq > s.seq {
				bad("task %q has queue position %d beyond the last handed out, %d", id, t.QueueSeq, s.seq)
			}
		} else if x, ok := s.byState[t.State].Get(id); !ok || x != t {
			bad("task %q is %s but not indexed as %s", id, t.State, t.State)
		}
		if t.Node != "" {
			if x, ok := s.byNode.Get(nodeKey(t.Node, id)); !ok || x != t {
				bad("task %q is on node %q but not indexed there", id, t.Node)
			}
			if _, ok := s.nodes.Get(t.Node); !ok {
				bad("task %q is on node %q, which the ledger does not hold", id, t.Node)
			}
			u := used[t.Node]
			u.cores += t.Spec.Cores
			u.mem += t.Spec.MemMB
			u.tasks++
			used[t.Node] = u
		}
		if !t.State.Final() && t.TaskFailures >= t.Spec.MaxAttempts {
			bad("task %q is %s after %d task failures of max_attempts %d", id, t.State, t.TaskFailures, t.Spec.MaxAttempts)
		}
		return false
	})
	counts.Nodes = s.nodes.Len()
	counts.Duplicates = s.counts.Duplicates
	if counts != s.counts {
		bad("counts %+v, the records say %+v", s.counts, counts)
	}
	if n := s.queue.Len(); n != counts.Queued {
		bad("the queue holds %d entries for %d queued tasks", n, counts.Queued)
	}
	for st := Assigned; st < Removed; st++ {
		if n, want := s.byState[st].Len(), counts.Of(st); n != want {
			bad("the %s index holds %d entries for %d %s tasks (a task in two states?)", st, n, want, st)
		}
	}
	if n, want := s.byNode.Len(), counts.Assigned+counts.Running; n != want {
		bad("the node index holds %d entries for %d assigned and running tasks", n, want)
	}
	s.nodes.Walk(func(_ string, n *Node) bool {
		u := used[n.ID]
		if n.UsedCores != u.cores || n.UsedMemMB != u.mem || n.Tasks != u.tasks {
			bad("node %q records %d cores, %d MB, %d tasks used; its tasks use %d, %d, %d", n.ID, n.UsedCores, n.UsedMemMB, n.Tasks, u.cores, u.mem, u.tasks)
		}
		if n.UsedCores > n.Cores+n.Prefetch {
			bad("node %q is oversubscribed: %d cores used of %d and a prefetch of %d", n.ID, n.UsedCores, n.Cores, n.Prefetch)
		}
		if n.MemMB > 0 && n.UsedMemMB > n.MemMB {
			bad("node %q is oversubscribed: %d MB used of %d", n.ID, n.UsedMemMB, n.MemMB)
		}
		return false
	})
	return errors.Join(errs...)
}

// stateDataError says what a record holds that its state does not allow, or
// what it lacks.
func stateDataError(t *Task) string {
	switch t.State {
	case Queued:
		if t.QueueSeq == 0 || t.Node != "" || t.AssignedAt != 0 || t.StartedAt != 0 || t.Result != nil || t.Reason != "" {
			return "a queued task holds only its queue position"
		}
	case Assigned, Running:
		if t.QueueSeq != 0 || t.Node == "" || t.Attempt < 1 || t.Result != nil || t.Reason != "" {
			return "an assigned or running task holds a node and an attempt, no queue position and no result"
		}
		if t.State == Assigned && t.StartedAt != 0 {
			return "an assigned task has no start time"
		}
	case Done, Failed:
		if t.QueueSeq != 0 || t.Node != "" || t.AssignedAt != 0 || t.StartedAt != 0 || t.Result == nil {
			return "a final task holds only its result"
		}
		if t.Result.ID != t.Spec.ID || t.Result.State != t.State.String() {
			return fmt.Sprintf("its result is for %q, %s", t.Result.ID, t.Result.State)
		}
		if (t.State == Failed) != (t.Reason != "") {
			return "a failed task, and only a failed one, has a reason"
		}
	default:
		return "not a state"
	}
	return ""
}
