package ledger

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
	t, ok := v.s.tasks.Get(id)
	if !ok {
		return Task{}, false
	}
	return *t, true
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
	v.s.queue.Walk(func(_ uint64, t *Task) bool { return fn(t) })
}

// Walk calls fn on the tasks in one state (queued ones in queue order, the
// others sorted by id) until fn returns true. fn must not modify the record.
func (v View) Walk(s State, fn func(*Task) bool) {
	if s == Queued {
		v.WalkQueued(fn)
		return
	}
	if s > Queued && s < Removed {
		v.s.byState[s].Walk(func(_ string, t *Task) bool { return fn(t) })
	}
}

// InState returns the tasks in one state: queued ones in queue order, the
// others sorted by id.
func (v View) InState(s State) []Task {
	var out []Task
	v.Walk(s, func(t *Task) bool {
		out = append(out, *t)
		return false
	})
	return out
}

// OnNode returns the assigned and running tasks of a node, sorted by id.
func (v View) OnNode(node string) []Task {
	ts := onNode(v.s.byNode, node)
	out := make([]Task, len(ts))
	for i, t := range ts {
		out[i] = *t
	}
	return out
}

// WalkNode calls fn on a node's assigned and running tasks, sorted by id,
// until fn returns true. It allocates nothing; fn must not modify the
// record.
func (v View) WalkNode(node string, fn func(*Task) bool) {
	walkNode(v.s.byNode, node, fn)
}

// Node returns one node's record.
func (v View) Node(id string) (Node, bool) {
	n, ok := v.s.nodes.Get(id)
	if !ok {
		return Node{}, false
	}
	return *n, true
}

// Nodes returns every node, sorted by id.
func (v View) Nodes() []Node {
	out := make([]Node, 0, v.s.nodes.Len())
	v.s.nodes.Walk(func(_ string, n *Node) bool {
		out = append(out, *n)
		return false
	})
	return out
}
