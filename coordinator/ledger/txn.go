package ledger

import (
	"encoding/binary"

	iradix "github.com/hashicorp/go-immutable-radix"
)

// txn is one Apply in progress: a transaction over every tree of the state.
// All writes to a task go through put, which keeps every index, the counts
// and the nodes' usage in step.
type txn struct {
	base    *state
	seq     uint64
	counts  Counts
	tasks   *iradix.Txn
	queue   *iradix.Txn
	byState *iradix.Txn
	byNode  *iradix.Txn
	nodes   *iradix.Txn
	out     *Outcome
}

func begin(s *state, out *Outcome) *txn {
	return &txn{
		base: s, seq: s.seq, counts: s.counts,
		tasks: s.tasks.Txn(), queue: s.queue.Txn(), byState: s.byState.Txn(),
		byNode: s.byNode.Txn(), nodes: s.nodes.Txn(),
		out: out,
	}
}

func (x *txn) commit(index uint64) *state {
	nodes := x.nodes.CommitOnly()
	x.counts.Nodes = nodes.Len()
	return &state{
		applied: index, seq: x.seq, counts: x.counts,
		tasks: x.tasks.CommitOnly(), queue: x.queue.CommitOnly(),
		byState: x.byState.CommitOnly(), byNode: x.byNode.CommitOnly(),
		nodes: nodes,
	}
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func stateKey(s State, id string) []byte {
	k := make([]byte, 1+len(id))
	k[0] = byte(s)
	copy(k[1:], id)
	return k
}

// nodeKey joins a node and a task id. Node ids never contain a NUL byte
// (AgentJoined refuses them), so the prefix node+"\x00" holds exactly that
// node's tasks.
func nodeKey(node, id string) []byte {
	k := make([]byte, 0, len(node)+1+len(id))
	k = append(k, node...)
	k = append(k, 0)
	return append(k, id...)
}

func (x *txn) task(id string) (*Task, bool) {
	v, ok := x.tasks.Get([]byte(id))
	if !ok {
		return nil, false
	}
	return v.(*Task), true
}

func (x *txn) node(id string) (*Node, bool) {
	v, ok := x.nodes.Get([]byte(id))
	if !ok {
		return nil, false
	}
	return v.(*Node), true
}

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
		x.tasks.Delete([]byte(old.Spec.ID))
	} else {
		x.tasks.Insert([]byte(nw.Spec.ID), nw)
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
		x.queue.Delete(seqKey(t.QueueSeq))
	} else {
		x.byState.Delete(stateKey(t.State, t.Spec.ID))
	}
	if t.Node != "" {
		x.byNode.Delete(nodeKey(t.Node, t.Spec.ID))
	}
}

func (x *txn) index(t *Task) {
	x.counts.add(t.State, +1)
	if t.State == Queued {
		x.queue.Insert(seqKey(t.QueueSeq), t)
	} else {
		x.byState.Insert(stateKey(t.State, t.Spec.ID), t)
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
	x.nodes.Insert([]byte(id), &nn)
}

// onNode lists the records on a node, sorted by task id.
func (x *txn) onNode(node string) []*Task {
	var ts []*Task
	x.byNode.Root().WalkPrefix(nodeKey(node, ""), func(_ []byte, v interface{}) bool {
		ts = append(ts, v.(*Task))
		return false
	})
	return ts
}
