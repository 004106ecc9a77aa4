package ledger

import iradix "github.com/hashicorp/go-immutable-radix"

// View is one immutable version of the ledger. Its methods never block and
// are safe for concurrent use; Apply never changes a View already taken.
// Records returned share their slices and maps with the ledger: do not
// modify them.
type View struct {
	s *state
}

// Applied is the index of the last entry this view includes.
func (v View) Applied() uint64 { return v.s.applied }

// Counts returns the number of tasks in each state.
func (v View) Counts() Counts { return v.s.counts }

// Task returns one task's record.
func (v View) Task(id string) (Task, bool) {
	t, ok := v.s.tasks.Get([]byte(id))
	if !ok {
		return Task{}, false
	}
	return *t.(*Task), true
}

// Queued returns up to max queued tasks (all of them when max <= 0) in
// queue order: ingest order, a requeued task at the end.
func (v View) Queued(max int) []Task {
	var out []Task
	v.WalkQueued(func(t *Task) bool {
		out = append(out, *t)
		return max > 0 && len(out) >= max
	})
	return out
}

// WalkQueued calls fn on the queued tasks in queue order until fn returns
// true. It allocates nothing; fn must not modify the record.
func (v View) WalkQueued(fn func(*Task) bool) {
	v.s.queue.Root().Walk(func(_ []byte, val interface{}) bool { return fn(val.(*Task)) })
}

// InState returns the tasks in one state: queued ones in queue order, the
// others sorted by id.
func (v View) InState(s State) []Task {
	if s == Queued {
		return v.Queued(0)
	}
	return collect(v.s.byState, []byte{byte(s)})
}

// OnNode returns the assigned and running tasks of a node, sorted by id.
func (v View) OnNode(node string) []Task {
	return collect(v.s.byNode, nodeKey(node, ""))
}

func collect(t *iradix.Tree, prefix []byte) []Task {
	var out []Task
	t.Root().WalkPrefix(prefix, func(_ []byte, val interface{}) bool {
		out = append(out, *val.(*Task))
		return false
	})
	return out
}

// Node returns one node's record.
func (v View) Node(id string) (Node, bool) {
	n, ok := v.s.nodes.Get([]byte(id))
	if !ok {
		return Node{}, false
	}
	return *n.(*Node), true
}

// Nodes returns every node, sorted by id.
func (v View) Nodes() []Node {
	out := make([]Node, 0, v.s.nodes.Len())
	v.s.nodes.Root().Walk(func(_ []byte, val interface{}) bool {
		out = append(out, *val.(*Node))
		return false
	})
	return out
}
