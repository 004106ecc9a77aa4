package coordinator

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// ErrNotLeader is wrapped by every *NotLeaderError.
var ErrNotLeader = errors.New("not the raft leader")

// ErrMaybeCommitted means the outcome of a proposal is unknown: leadership
// was lost, or the caller's context ended, after the entry was handed to
// Raft. It may still commit. Every ledger command is fenced (attempts,
// duplicate ingest, first result wins), so proposing it again is safe.
var ErrMaybeCommitted = errors.New("the entry may or may not be committed")

// NotLeaderError says that this node cannot accept the write and who can.
// LeaderID and LeaderAddr are empty when no leader is known (an election
// is running): retry after a short wait.
type NotLeaderError struct {
	LeaderID   string
	LeaderAddr string
}

func (e *NotLeaderError) Error() string {
	if e.LeaderAddr == "" {
		return "not the raft leader, and no leader is known (an election is running): retry shortly"
	}
	return fmt.Sprintf("not the raft leader: send it to the leader %s at %s", e.LeaderID, e.LeaderAddr)
}

// Unwrap makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// raftError turns raft's errors into this package's: a write this node
// cannot take into *NotLeaderError, a lost outcome into ErrMaybeCommitted.
func (n *Node) raftError(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		addr, id := n.raft.LeaderWithID()
		return fmt.Errorf("%s on node %s: %w", op, n.cfg.ID, &NotLeaderError{LeaderID: string(id), LeaderAddr: string(addr)})
	case errors.Is(err, raft.ErrLeadershipLost):
		return fmt.Errorf("%s on node %s: leadership lost while committing: %w", op, n.cfg.ID, ErrMaybeCommitted)
	}
	return fmt.Errorf("%s on node %s: %w", op, n.cfg.ID, err)
}
