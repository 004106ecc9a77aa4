package ledger

import (
	"errors"
	"fmt"
)

// CheckTouched checks what one entry can have broken when the caller knows
// what the entry touched: the rules of CheckInvariants for the records of
// the given tasks (a task no longer held must be in no index), for the
// given nodes and every task on them, and for the counts against the
// indexes' sizes. It costs a few tree lookups per task and one range walk
// per node, not a walk of the whole state, so the simulator runs it after
// every entry and the full CheckInvariants every few entries and at the
// end. It does not see a record that an entry changed but the caller did
// not name; the full check does.
func (v View) CheckTouched(tasks, nodes []string) error {
	s := v.s
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	c := s.counts
	if c.Queued != s.queue.Len() {
		bad("counts say %d queued; the queue holds %d", c.Queued, s.queue.Len())
	}
	for st := Assigned; st < Removed; st++ {
		if c.Of(st) != s.byState[st].Len() {
			bad("counts say %d %s; the %s index holds %d", c.Of(st), st, st, s.byState[st].Len())
		}
	}
	if c.Tasks() != s.tasks.Len() {
		bad("counts say %d tasks; the records are %d", c.Tasks(), s.tasks.Len())
	}
	if n, want := s.byNode.Len(), c.Assigned+c.Running; n != want {
		bad("the node index holds %d entries for %d assigned and running tasks", n, want)
	}
	if c.Nodes != s.nodes.Len() {
		bad("counts say %d nodes; the ledger holds %d", c.Nodes, s.nodes.Len())
	}

	seen := make(map[string]bool, len(nodes))
	check := make([]string, 0, len(nodes))
	addNode := func(id string) {
		if !seen[id] {
			seen[id] = true
			check = append(check, id)
		}
	}
	for _, id := range nodes {
		addNode(id)
	}
	for _, id := range tasks {
		t, ok := s.tasks.Get(id)
		if !ok {
			for st := Assigned; st < Removed; st++ {
				if _, in := s.byState[st].Get(id); in {
					bad("task %q is not held but the %s index has it", id, st)
				}
			}
			continue
		}
		if t.Spec.ID != id {
			bad("task %q is stored under key %q", t.Spec.ID, id)
		}
		if msg := stateDataError(t); msg != "" {
			bad("task %q (%s): %s", id, t.State, msg)
		}
		if t.State == Queued {
			if q, in := s.queue.Get(t.QueueSeq); !in || q != t {
				bad("task %q is queued but not at its queue position %d", id, t.QueueSeq)
			}
			if t.QueueSeq > s.seq {
				bad("task %q has queue position %d beyond the last handed out, %d", id, t.QueueSeq, s.seq)
			}
		}
		for st := Assigned; st < Removed; st++ {
			x, in := s.byState[st].Get(id)
			switch {
			case st == t.State && (!in || x != t):
				bad("task %q is %s but not indexed as %s", id, st, st)
			case st != t.State && in:
				bad("task %q is %s but the %s index has it too (a task in two states?)", id, t.State, st)
			}
		}
		if t.Node != "" {
			if x, in := s.byNode.Get(nodeKey(t.Node, id)); !in || x != t {
				bad("task %q is on node %q but not indexed there", id, t.Node)
			}
			addNode(t.Node)
		}
		if !t.State.Final() && t.TaskFailures >= t.Spec.MaxAttempts {
			bad("task %q is %s after %d task failures of max_attempts %d", id, t.State, t.TaskFailures, t.Spec.MaxAttempts)
		}
	}
	for _, id := range check {
		on := onNode(s.byNode, id)
		n, ok := s.nodes.Get(id)
		if !ok {
			if len(on) > 0 {
				bad("task %q is on node %q, which the ledger does not hold", on[0].Spec.ID, id)
			}
			continue
		}
		cores, mem := 0, int64(0)
		for _, t := range on {
			if r, in := s.tasks.Get(t.Spec.ID); !in || r != t || t.Node != id {
				bad("the node index holds task %q on node %q, which its record does not say", t.Spec.ID, id)
			}
			cores += t.Spec.Cores
			mem += t.Spec.MemMB
		}
		if n.UsedCores != cores || n.UsedMemMB != mem || n.Tasks != len(on) {
			bad("node %q records %d cores, %d MB, %d tasks used; its tasks use %d, %d, %d", id, n.UsedCores, n.UsedMemMB, n.Tasks, cores, mem, len(on))
		}
		if n.UsedCores > n.Cores+n.Prefetch {
			bad("node %q is oversubscribed: %d cores used of %d and a prefetch of %d", id, n.UsedCores, n.Cores, n.Prefetch)
		}
		if n.MemMB > 0 && n.UsedMemMB > n.MemMB {
			bad("node %q is oversubscribed: %d MB used of %d", id, n.UsedMemMB, n.MemMB)
		}
	}
	return errors.Join(errs...)
}
