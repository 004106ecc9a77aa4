package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
)

// MaxEntryBytes bounds one log entry. Every replica holds whole entries
// in memory and raft ships up to 64 of them in one message, so a leader
// batches up to about a megabyte and splits beyond this.
const MaxEntryBytes = 4 << 20

// Propose commits one command (a ledger.Batch for many) and returns its
// outcome once this node has applied it. It blocks until then or until ctx
// ends. Refusals inside the outcome are not errors: the entry committed,
// and the ledger said no to some transitions (see Outcome.Err).
//
// Errors: a *NotLeaderError (errors.Is ErrNotLeader) when this node is not
// the leader, with the leader's address when known; ErrMaybeCommitted when
// leadership was lost or ctx ended after the entry was handed to Raft; an
// encode error for a malformed command.
func (n *Node) Propose(ctx context.Context, cmd ledger.Command) (*ledger.Outcome, error) {
	data, err := ledger.Encode(cmd)
	if err != nil {
		return nil, err
	}
	if len(data) > MaxEntryBytes {
		return nil, fmt.Errorf("propose %s on node %s: the entry is %d bytes, the limit is %d: split the batch", cmd.Type(), n.cfg.ID, len(data), MaxEntryBytes)
	}
	f := n.raft.Apply(data, enqueueTimeout(ctx))
	if err := n.wait(ctx, f); err != nil {
		return nil, n.raftError("propose "+cmd.Type().String(), err)
	}
	out, ok := f.Response().(*ledger.Outcome)
	if !ok {
		return nil, fmt.Errorf("propose %s on node %s: the state machine answered %T", cmd.Type(), n.cfg.ID, f.Response())
	}
	return out, nil
}

// Barrier blocks until every entry committed before it is applied on this
// node: a new leader calls it before reading the ledger to plan.
func (n *Node) Barrier(ctx context.Context) error {
	return n.raftError("barrier", n.wait(ctx, n.raft.Barrier(enqueueTimeout(ctx))))
}

// WaitApplied blocks until this node's ledger has applied index, or ctx
// ends; see FSM.WaitApplied for which indexes to give it.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	return n.fsm.WaitApplied(ctx, index)
}

// enqueueTimeout turns ctx's deadline into raft's timeout, which bounds
// only how long the entry may wait to enter raft's queue.
func enqueueTimeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		if t := time.Until(d); t > 0 {
			return t
		}
		return time.Nanosecond
	}
	return 0
}

// wait always waits on the future's Error, and gives up with
// ErrMaybeCommitted when ctx ends or the node shuts down first, leaving a
// goroutine to drain the future. The shutdown case matters: raft never
// answers a future still in its apply queue when it shuts down.
func (n *Node) wait(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrMaybeCommitted, ctx.Err())
	case <-n.shutdown:
		return fmt.Errorf("%w: %w", ErrMaybeCommitted, raft.ErrRaftShutdown)
	}
}
