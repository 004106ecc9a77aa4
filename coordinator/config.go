package coordinator

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
)

// Config configures one Raft node of the ledger.
type Config struct {
	// ID is the node's Raft server id, unique in the cluster and stable
	// across restarts (the agent's node id).
	ID string
	// Dir is the node-local directory of the Raft log (Dir/wal) and the
	// snapshots (Dir/snapshots). Restarting from the same Dir recovers
	// the node. Never put it on a shared filesystem.
	Dir string
	// Bind is the TCP address to listen on, e.g. "127.0.0.1:0" or
	// "0.0.0.0:7400".
	Bind string
	// Advertise is the address peers dial, when it differs from the bound
	// one (binding to 0.0.0.0). Empty: the bound address.
	Advertise string
	// WrapConn, when set, wraps every Raft connection (see ConnWrapper).
	WrapConn ConnWrapper
	// Resolve, when set, gives the address to dial a Raft server at by its
	// ID, for servers whose address changed after the configuration named
	// them (an agent restarted on its node with new ports); "" means not
	// known, and the configuration's address is dialled. Raft calls it
	// from its own goroutines: it must be safe for concurrent use.
	Resolve func(id string) string
	// Timeouts of the Raft protocol; zero fields take DefaultTimeouts.
	Timeouts Timeouts
	// SnapshotInterval and SnapshotThreshold: Raft checks every interval
	// and snapshots when this many entries were applied since the last
	// snapshot. TrailingLogs entries stay in the log after a snapshot, for
	// followers that lag a little. Zero: raft's defaults.
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// SnapshotRetain is how many snapshots to keep on disk (default 2).
	SnapshotRetain int
	// Ledger is the ledger to apply to; nil: a new empty one.
	Ledger *ledger.Ledger
	// Logger receives the node's own logs (default slog.Default()).
	Logger *slog.Logger
	// RaftLogOutput receives hashicorp/raft's logs at RaftLogLevel
	// (default os.Stderr at "warn"); tests pass io.Discard.
	RaftLogOutput io.Writer
	RaftLogLevel  string
}

// Timeouts of the Raft protocol. The defaults suit a cluster network; on
// loopback tests may use LoopbackTimeouts.
type Timeouts struct {
	Heartbeat   time.Duration // follower: no contact this long starts an election
	Election    time.Duration // candidate: no leader this long starts another
	LeaderLease time.Duration // leader: steps down without quorum contact this long
	Commit      time.Duration // leader: at most this long between AppendEntries
}

// DefaultTimeouts suit nodes of one HPC cluster network.
var DefaultTimeouts = Timeouts{Heartbeat: time.Second, Election: time.Second, LeaderLease: 500 * time.Millisecond, Commit: 20 * time.Millisecond}

// LoopbackTimeouts suit in-process clusters on 127.0.0.1 (tests): fast
// failover, with room for -race on a loaded 2-core machine.
var LoopbackTimeouts = Timeouts{Heartbeat: 300 * time.Millisecond, Election: 300 * time.Millisecond, LeaderLease: 150 * time.Millisecond, Commit: 5 * time.Millisecond}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts
	if t.Heartbeat > 0 {
		d.Heartbeat = t.Heartbeat
	}
	if t.Election > 0 {
		d.Election = t.Election
	}
	if t.LeaderLease > 0 {
		d.LeaderLease = t.LeaderLease
	}
	if t.Commit > 0 {
		d.Commit = t.Commit
	}
	return d
}

func (c *Config) check() error {
	switch {
	case c.ID == "":
		return errors.New("coordinator: Config.ID is empty: give the node's stable id")
	case c.Dir == "":
		return errors.New("coordinator: Config.Dir is empty: give a node-local directory for the Raft log")
	case c.Bind == "":
		return errors.New("coordinator: Config.Bind is empty: give a TCP address such as 127.0.0.1:0")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.RaftLogOutput == nil {
		c.RaftLogOutput = os.Stderr
	}
	if c.RaftLogLevel == "" {
		c.RaftLogLevel = "warn"
	}
	if c.SnapshotRetain <= 0 {
		c.SnapshotRetain = 2
	}
	return nil
}
