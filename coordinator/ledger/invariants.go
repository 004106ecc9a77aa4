package ledger

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// CheckInvariants checks the rules that hold after every entry: each task
// is in exactly one state and indexed exactly there; it carries the data of
// that state and no other; the counts match the records; each node's usage
// is the sum of its tasks and within its cores and memory (promise 3). It
// walks the whole state: tests and the simulator run it after every step.
// It costs one walk of each tree and no tree lookups: the records are walked
// in id order and each index is compared, entry by entry, with the records
// it must hold in its own order.
func (v View) CheckInvariants() error {
	s := v.s
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	// The records each index must hold, in the index's order: by id for
	// the state indexes and for each node, by queue position for the queue.
	// Capacities come from the indexes' sizes, so the walk seldom grows them.
	var inState [Removed][]*Task
	for st := Assigned; st < Removed; st++ {
		inState[st] = make([]*Task, 0, s.byState[st].Len())
	}
	queued := make([]*Task, 0, s.queue.Len())
	type use struct {
		node  *Node
		cores int
		mem   int64
		tasks []*Task // in id order
	}
	nodes := make([]use, 0, s.nodes.Len())
	s.nodes.Walk(func(_ string, n *Node) bool {
		nodes = append(nodes, use{node: n, tasks: make([]*Task, 0, max(n.Tasks, 0))})
		return false
	})
	used := make(map[string]*use, len(nodes))
	for i := range nodes {
		used[nodes[i].node.ID] = &nodes[i]
	}
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
		switch {
		case t.State == Queued:
			queued = append(queued, t)
			if t.QueueSeq > s.seq {
				bad("task %q has queue position %d beyond the last handed out, %d", id, t.QueueSeq, s.seq)
			}
		case t.State < Removed:
			inState[t.State] = append(inState[t.State], t)
		}
		if t.Node != "" {
			u := used[t.Node]
			if u == nil {
				bad("task %q is on node %q, which the ledger does not hold", id, t.Node)
				return false
			}
			u.cores += t.Spec.Cores
			u.mem += t.Spec.MemMB
			u.tasks = append(u.tasks, t)
		}
		if !t.State.Final() && t.TaskFailures >= t.Spec.MaxAttempts {
			bad("task %q is %s after %d task failures of max_attempts %d", id, t.State, t.TaskFailures, t.Spec.MaxAttempts)
		}
		return false
	})
	counts.Nodes = s.nodes.Len()
	counts.Duplicates, counts.Late = s.counts.Duplicates, s.counts.Late
	if counts != s.counts {
		bad("counts %+v, the records say %+v", s.counts, counts)
	}

	slices.SortFunc(queued, func(a, b *Task) int { return cmp.Compare(a.QueueSeq, b.QueueSeq) })
	i := 0
	s.queue.Walk(func(k uint64, q *Task) bool {
		if i >= len(queued) || queued[i] != q || q.QueueSeq != k {
			bad("the queue holds task %q at position %d, where the records have %s", q.Spec.ID, k, which(queued, i))
			return true
		}
		i++
		return false
	})
	if i < len(queued) && i == s.queue.Len() {
		bad("task %q is queued but not at its queue position %d", queued[i].Spec.ID, queued[i].QueueSeq)
	}
	for st := Assigned; st < Removed; st++ {
		want, i := inState[st], 0
		s.byState[st].Walk(func(k string, x *Task) bool {
			if i >= len(want) || want[i] != x || k != x.Spec.ID {
				bad("the %s index holds task %q under key %q, where the records have %s (a task in two states?)", st, x.Spec.ID, k, which(want, i))
				return true
			}
			i++
			return false
		})
		if i < len(want) && i == s.byState[st].Len() {
			bad("task %q is %s but not indexed as %s", want[i].Spec.ID, st, st)
		}
	}

	// The node index is ordered by node, then id: each node's entries come
	// together, in the order its tasks were met in the walk above.
	var cur *use
	var curNode string
	j, broken := 0, false
	s.byNode.Walk(func(k string, x *Task) bool {
		if len(k) != len(x.Node)+1+len(x.Spec.ID) || k[:len(x.Node)] != x.Node || k[len(x.Node)+1:] != x.Spec.ID {
			bad("the node index holds task %q on node %q under key %q", x.Spec.ID, x.Node, k)
			broken = true
		} else if cur == nil || x.Node != curNode {
			if cur != nil && j < len(cur.tasks) {
				bad("task %q is on node %q but not indexed there", cur.tasks[j].Spec.ID, curNode)
				broken = true
			} else if cur, curNode, j = used[x.Node], x.Node, 0; cur == nil {
				bad("the node index holds task %q on node %q, which the ledger does not hold", x.Spec.ID, x.Node)
				broken = true
			}
		}
		if !broken && (j >= len(cur.tasks) || cur.tasks[j] != x) {
			bad("the node index holds task %q on node %q, where the records have %s", x.Spec.ID, x.Node, which(cur.tasks, j))
			broken = true
		}
		j++
		return broken
	})
	if n, want := s.byNode.Len(), counts.Assigned+counts.Running; n != want {
		bad("the node index holds %d entries for %d assigned and running tasks", n, want)
	}
	if !broken && cur != nil && j < len(cur.tasks) {
		bad("task %q is on node %q but not indexed there", cur.tasks[j].Spec.ID, curNode)
	}
	for _, u := range nodes {
		n := u.node
		if n.UsedCores != u.cores || n.UsedMemMB != u.mem || n.Tasks != len(u.tasks) {
			bad("node %q records %d cores, %d MB, %d tasks used; its tasks use %d, %d, %d", n.ID, n.UsedCores, n.UsedMemMB, n.Tasks, u.cores, u.mem, len(u.tasks))
		}
		if n.UsedCores > n.Cores+n.Prefetch {
			bad("node %q is oversubscribed: %d cores used of %d and a prefetch of %d", n.ID, n.UsedCores, n.Cores, n.Prefetch)
		}
		if n.MemMB > 0 && n.UsedMemMB > n.MemMB {
			bad("node %q is oversubscribed: %d MB used of %d", n.ID, n.UsedMemMB, n.MemMB)
		}
	}
	return errors.Join(errs...)
}

// which names the record at position i of want, for a message.
func which(want []*Task, i int) string {
	if i >= len(want) {
		return "no more tasks there"
	}
	return fmt.Sprintf("task %q", want[i].Spec.ID)
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
