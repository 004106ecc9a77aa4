package ledger

// txn is one Apply in progress: a transaction over every tree of the state.
// All writes to a task go through put, which keeps every index, the counts
// and the nodes' usage in step.
type txn struct {
	seq     uint64
	counts  Counts
	tasks   *btxn[string, *Task]
	queue   *btxn[uint64, *Task]
	byState [Removed]*btxn[string, *Task]
	byNode  *btxn[string, *Task]
	nodes   *btxn[string, *Node]
	out     *Outcome
}

func begin(s *state, out *Outcome) *txn {
	x := &txn{
		seq: s.seq, counts: s.counts,
		tasks: s.tasks.txn(), queue: s.queue.txn(), byNode: s.byNode.txn(), nodes: s.nodes.txn(),
		out: out,
	}
	for st := Assigned; st < Removed; st++ {
		x.byState[st] = s.byState[st].txn()
	}
	return x
}

func (x *txn) commit(index uint64) *state {
	s := &state{
		applied: index, seq: x.seq, counts: x.counts,
		tasks: x.tasks.commit(), queue: x.queue.commit(),
		byNode: x.byNode.commit(), nodes: x.nodes.commit(),
	}
	for st := Assigned; st < Removed; st++ {
		s.byState[st] = x.byState[st].commit()
	}
	s.counts.Nodes = s.nodes.Len()
	return s
}

// nodeKey joins a node and a task id. Node ids never contain a NUL byte
// (AgentJoined refuses them), so the keys from node+"\x00" on that share
// the prefix are exactly that node's tasks.
func nodeKey(node, id string) string { return node + "\x00" + id }

func (x *txn) task(id string) (*Task, bool) { return x.tasks.Get(id) }

func (x *txn) node(id string) (*Node, bool) { return x.nodes.Get(id) }

func (x *txn) nextSeq() uint64 {
	x.seq++
	return x.seq
}

// put replaces the record old with nw: old nil inserts, nw nil removes.
func (x *txn) put(old, nw *Task) {
	if old != nil {
		x.unindex(old)
	}
	if nw == nil {
		x.tasks.Delete(old.Spec.ID)
	} else {
		x.tasks.Insert(nw.Spec.ID, nw)
		x.index(nw)
	}
	var oldNode, newNode string
	if old != nil {
		oldNode = old.Node
	}
	if nw != nil {
		newNode = nw.Node
	}
	if oldNode != newNode {
		if oldNode != "" {
			x.use(oldNode, old, -1)
		}
		if newNode != "" {
			x.use(newNode, nw, +1)
		}
	}
}

func (x *txn) unindex(t *Task) {
	x.counts.add(t.State, -1)
	if t.State == Queued {
		x.queue.Delete(t.QueueSeq)
	} else {
		x.byState[t.State].Delete(t.Spec.ID)
	}
	if t.Node != "" {
		x.byNode.Delete(nodeKey(t.Node, t.Spec.ID))
	}
}

func (x *txn) index(t *Task) {
	x.counts.add(t.State, +1)
	if t.State == Queued {
		x.queue.Insert(t.QueueSeq, t)
	} else {
		x.byState[t.State].Insert(t.Spec.ID, t)
	}
	if t.Node != "" {
		x.byNode.Insert(nodeKey(t.Node, t.Spec.ID), t)
	}
}

// use adds (sign +1) or releases (sign -1) what t holds on a node.
func (x *txn) use(id string, t *Task, sign int) {
	n, ok := x.node(id)
	if !ok {
		return // CheckInvariants reports a task on a missing node
	}
	nn := *n
	nn.UsedCores += sign * t.Spec.Cores
	nn.UsedMemMB += int64(sign) * t.Spec.MemMB
	nn.Tasks += sign
	x.nodes.Insert(id, &nn)
}

// onNode lists the records on a node, sorted by task id.
func (x *txn) onNode(node string) []*Task {
	return onNode(x.byNode.tree(), node)
}

func onNode(byNode *btree[string, *Task], node string) []*Task {
	var ts []*Task
	walkNode(byNode, node, func(t *Task) bool {
		ts = append(ts, t)
		return false
	})
	return ts
}

// walkNode calls fn on a node's assigned and running tasks, sorted by id,
// until fn returns true.
func walkNode(byNode *btree[string, *Task], node string, fn func(*Task) bool) {
	prefix := nodeKey(node, "")
	byNode.Ascend(prefix, func(k string, t *Task) bool {
		if len(k) < len(prefix) || k[:len(prefix)] != prefix {
			return true
		}
		return fn(t)
	})
}
