package ledger

import (
	"fmt"
	"sync/atomic"
)

// Ledger is the task state machine. Apply, ApplyCommand and Restore must be
// called from one goroutine at a time (Raft's FSM goroutine does); every
// other method is safe to call concurrently with them and never blocks:
// it reads the last published state.
type Ledger struct {
	cur atomic.Pointer[state]
}

// state is one immutable version of the ledger. Apply builds the next one
// and publishes it; readers and snapshots keep the one they loaded.
type state struct {
	applied uint64
	seq     uint64 // the last queue position handed out
	counts  Counts
	tasks   *btree[string, *Task]          // id → task
	queue   *btree[uint64, *Task]          // QueueSeq → queued task, in queue order
	byState [Removed]*btree[string, *Task] // [state] id → task, for every state but queued
	byNode  *btree[string, *Task]          // nodeKey(node, id) → assigned or running task
	nodes   *btree[string, *Node]          // id → node
}

func emptyState() *state { return &state{} }

// New returns an empty ledger.
func New() *Ledger {
	l := &Ledger{}
	l.cur.Store(emptyState())
	return l
}

// Apply decodes one log entry and applies it. A body that does not decode
// panics: the log is corrupt, and going on would let replicas diverge.
func (l *Ledger) Apply(index uint64, data []byte) *Outcome {
	cmd, err := Decode(data)
	if err != nil {
		panic(fmt.Sprintf("ledger: log entry %d: %v", index, err))
	}
	return l.ApplyCommand(index, cmd)
}

// ApplyCommand applies a decoded command as the entry at index. The
// simulator and tests call it directly; Apply calls it after decoding.
func (l *Ledger) ApplyCommand(index uint64, cmd Command) *Outcome {
	x := begin(l.cur.Load(), &Outcome{Index: index})
	x.apply(cmd)
	l.cur.Store(x.commit(index))
	return x.out
}

// View returns a consistent read-only view of the ledger as of the last
// applied entry. It stays valid (and unchanged) however much is applied
// after.
func (l *Ledger) View() View { return View{s: l.cur.Load()} }

// Applied is the index of the last applied entry.
func (l *Ledger) Applied() uint64 { return l.cur.Load().applied }

// Counts returns the number of tasks in each state.
func (l *Ledger) Counts() Counts { return l.cur.Load().counts }

// CheckInvariants checks the rules that must hold after every entry; see
// View.CheckInvariants.
func (l *Ledger) CheckInvariants() error { return l.View().CheckInvariants() }

// Hash is a digest of the persisted state; see View.Hash.
func (l *Ledger) Hash() string { return l.View().Hash() }

// Snapshot captures the current state in O(1); Persist it at leisure.
func (l *Ledger) Snapshot() *Snapshot { return &Snapshot{view: l.View()} }
