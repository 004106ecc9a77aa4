package coordinator

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
)

// FSM adapts a ledger to raft.FSM. Raft calls Apply, Snapshot and Restore
// from one goroutine; WaitApplied and Ledger are safe from any goroutine.
type FSM struct {
	ledger *ledger.Ledger

	mu      sync.Mutex
	applied chan struct{} // closed and replaced after each entry
}

// NewFSM wraps a ledger (nil: a new empty one).
func NewFSM(l *ledger.Ledger) *FSM {
	if l == nil {
		l = ledger.New()
	}
	return &FSM{ledger: l, applied: make(chan struct{})}
}

// Ledger is the ledger the FSM applies to: read it through its View.
func (f *FSM) Ledger() *ledger.Ledger { return f.ledger }

// Apply applies one committed entry and returns its *ledger.Outcome. An
// entry that does not decode panics inside the ledger: the log is corrupt.
func (f *FSM) Apply(l *raft.Log) interface{} {
	out := f.ledger.Apply(l.Index, l.Data)
	f.wake()
	return out
}

// Snapshot captures the ledger in O(1); the bytes are written by Persist.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{snap: f.ledger.Snapshot()}, nil
}

// Restore replaces the ledger's state with a snapshot, discarding the
// prior state.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.ledger.Restore(rc); err != nil {
		return err
	}
	f.wake()
	return nil
}

func (f *FSM) wake() {
	f.mu.Lock()
	close(f.applied)
	f.applied = make(chan struct{})
	f.mu.Unlock()
}

// WaitApplied blocks until the ledger has applied index (or a later
// entry), or ctx ends. Give it the index of a command entry (an
// Outcome.Index, a View.Applied): raft's own entries (configuration
// changes, barriers) do not reach the ledger, so waiting for one of their
// indexes lasts until the next command.
func (f *FSM) WaitApplied(ctx context.Context, index uint64) error {
	for {
		f.mu.Lock()
		ch := f.applied
		f.mu.Unlock()
		if f.ledger.Applied() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for index %d, applied %d: %w", index, f.ledger.Applied(), ctx.Err())
		}
	}
}

type fsmSnapshot struct {
	snap *ledger.Snapshot
}

// Persist streams the snapshot into the sink; heavy IO happens here, not
// in Snapshot.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.snap.Persist(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist ledger snapshot at index %d: %w", s.snap.Applied(), err)
	}
	return sink.Close()
}

// Release is a no-op: the snapshot is an immutable view.
func (s *fsmSnapshot) Release() {}
