package coordinator

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
)

// Node is one Raft server of the ledger. Its methods are safe for
// concurrent use.
type Node struct {
	cfg       Config
	raft      *raft.Raft
	fsm       *FSM
	wal       *raftwal.WAL
	meta      *metadb.BoltMetaDB
	transport *raft.NetworkTransport
	stream    *streamLayer
	shutdown  chan struct{} // closed when Shutdown begins
	stopOnce  sync.Once
}

// Open starts a node from its data directory: a new one starts empty and
// waits to be bootstrapped or added to a cluster; a known one recovers its
// latest snapshot and log, and rejoins its cluster.
//
// The log and stable store is raft-wal, on the node-local disk: an
// append-only segmented log that writes each batch of entries with one
// sequential write and fsync, with no B-tree, free list or compaction to
// grow and stall like raft-boltdb's (whose v2 also does not resolve against
// this module's go-metrics). The snapshots are files beside it.
func Open(cfg Config) (*Node, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft." + cfg.ID, Output: cfg.RaftLogOutput, Level: hclog.LevelFromString(cfg.RaftLogLevel)})
	walDir := filepath.Join(cfg.Dir, "wal")
	if err := os.MkdirAll(walDir, 0o700); err != nil {
		return nil, fmt.Errorf("coordinator: create the Raft log directory: %w", err)
	}
	// WAL.Close leaves its meta database open (and flock'ed), so a node
	// could not be opened again in this process: own it and close it.
	meta := &metadb.BoltMetaDB{}
	wal, err := raftwal.Open(walDir, raftwal.WithLogger(hlog.Named("wal")), raftwal.WithMetaStore(meta))
	if err != nil {
		meta.Close()
		return nil, fmt.Errorf("coordinator: open the Raft log in %s: %w", walDir, err)
	}
	closeLog := func() {
		wal.Close()
		meta.Close()
	}
	if err := removeHalfSnapshots(cfg.Dir); err != nil {
		closeLog()
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, cfg.SnapshotRetain, hlog.Named("snapshots"))
	if err != nil {
		closeLog()
		return nil, fmt.Errorf("coordinator: open the snapshot store in %s: %w", cfg.Dir, err)
	}
	stream, err := newStreamLayer(cfg.Bind, cfg.Advertise, cfg.WrapConn, cfg.Logger)
	if err != nil {
		closeLog()
		return nil, err
	}
	// MaxRPCsInFlight 1 turns off pipelined replication. Its pipeline can
	// deadlock once a follower answers Success=false (a newer term, a
	// missing log): the send parks on inprogressCh while the decoder parks
	// on doneCh, whose reader has returned, so replication to that follower
	// stops for good and raft.Shutdown waits on it forever (seen: a drained
	// agent that never exited). raft's own measurements find pipelining of
	// little use beside batching (hashicorp/raft#541).
	var addrs raft.ServerAddressProvider
	if cfg.Resolve != nil {
		addrs = resolver(cfg.Resolve)
	}
	transport := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: stream, MaxPool: 4, MaxRPCsInFlight: 1, Timeout: 10 * time.Second, Logger: hlog.Named("net"),
		ServerAddressProvider: addrs,
	})
	fsm := NewFSM(cfg.Ledger)
	r, err := raft.NewRaft(raftConfig(&cfg, hlog), fsm, wal, wal, snaps, transport)
	if err != nil {
		transport.Close()
		closeLog()
		return nil, fmt.Errorf("coordinator: start Raft on %s: %w", cfg.Dir, err)
	}
	n := &Node{cfg: cfg, raft: r, fsm: fsm, wal: wal, meta: meta, transport: transport, stream: stream, shutdown: make(chan struct{})}
	cfg.Logger.Info("raft node started", "node", cfg.ID, "addr", n.Addr(), "dir", cfg.Dir, "index", fsm.Ledger().Applied())
	return n, nil
}

// resolver is Config.Resolve as raft's ServerAddressProvider.
type resolver func(id string) string

func (r resolver) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	if addr := r(string(id)); addr != "" {
		return raft.ServerAddress(addr), nil
	}
	return "", fmt.Errorf("no address known for raft server %s", id)
}

func raftConfig(cfg *Config, hlog hclog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = hlog
	t := cfg.Timeouts.withDefaults()
	rc.HeartbeatTimeout = t.Heartbeat
	rc.ElectionTimeout = t.Election
	rc.LeaderLeaseTimeout = t.LeaderLease
	rc.CommitTimeout = t.Commit
	// Concurrent proposals share one disk write and one AppendEntries.
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 64 // entries per AppendEntries, of up to MaxEntryBytes each
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	return rc
}

// ID is the node's Raft server id.
func (n *Node) ID() string { return n.cfg.ID }

// Addr is the address peers reach this node's Raft transport at.
func (n *Node) Addr() string { return string(n.transport.LocalAddr()) }

// Ledger is the node's replica of the ledger. Read it through its View;
// write only through Propose.
func (n *Node) Ledger() *ledger.Ledger { return n.fsm.Ledger() }

// FSM is the node's state machine adapter.
func (n *Node) FSM() *FSM { return n.fsm }

// Raft is the underlying hashicorp/raft server, for what this API does not
// cover (stats, observers). Do not Apply through it: use Propose.
func (n *Node) Raft() *raft.Raft { return n.raft }

// Shutdown stops the node: Raft, then its transport and log. The data
// directory keeps everything needed to Open it again.
func (n *Node) Shutdown() error {
	first := false
	n.stopOnce.Do(func() { close(n.shutdown); first = true })
	if !first {
		return nil
	}
	err := n.raft.Shutdown().Error()
	if cerr := n.transport.Close(); err == nil {
		err = cerr
	}
	if cerr := n.wal.Close(); err == nil {
		err = cerr
	}
	if cerr := n.meta.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("coordinator: shut down node %s: %w", n.cfg.ID, err)
	}
	n.cfg.Logger.Info("raft node stopped", "node", n.cfg.ID, "index", n.fsm.Ledger().Applied())
	return nil
}

// removeHalfSnapshots deletes the snapshots a killed node left half
// written: raft persists one in a NAME.tmp directory and renames it when
// it is complete, and never looks at a .tmp one again, so each kill
// during a persist left a ledger-sized directory behind (chaos
// crash-persist). The Raft log is open, and locked, by now: no other
// process of this node writes there.
func removeHalfSnapshots(dir string) error {
	half, err := filepath.Glob(filepath.Join(dir, "snapshots", "*.tmp"))
	if err != nil {
		return err
	}
	for _, d := range half {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("coordinator: remove the half-written snapshot %s: %w", d, err)
		}
	}
	return nil
}
