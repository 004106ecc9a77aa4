// Package coordtest builds in-process Raft clusters of the ledger on
// 127.0.0.1 for tests: N voters over real TCP with their logs on real
// disk, and the helpers to break them (Kill, Restart from the data dir,
// Partition, Heal) and check them (Leader, WaitApplied, EnsureSame). Nothing here sleeps:
// waits are on Raft observations and applied indexes.
package coordtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/pilot-hpc/pilot/coordinator"
)

// Cluster is a set of ledger nodes in this process. Its methods are safe
// for concurrent use: a test may Kill the leader while another goroutine
// proposes (Node and Leader then answer for the live nodes only).
type Cluster struct {
	t testing.TB

	nmu   sync.Mutex
	cfgs  []coordinator.Config
	nodes []*coordinator.Node // nil while killed
	obs   []chan raft.Observation
	net   *netctl

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every leader observation
}

// Option adjusts the config of node i before it opens.
type Option func(i int, c *coordinator.Config)

// New starts n voters bootstrapped as one cluster and waits for a leader.
// Everything is shut down and removed when the test ends.
func New(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	c := &Cluster{t: t, changed: make(chan struct{}), net: newNetctl()}
	base := t.TempDir()
	var servers []coordinator.Server
	for i := 0; i < n; i++ {
		cfg := coordinator.Config{
			ID:                fmt.Sprintf("v%d", i),
			Dir:               filepath.Join(base, fmt.Sprintf("v%d", i)),
			Bind:              "127.0.0.1:0",
			Timeouts:          coordinator.LoopbackTimeouts,
			SnapshotInterval:  100 * time.Millisecond,
			SnapshotThreshold: 32,
			TrailingLogs:      16,
			Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
			RaftLogOutput:     io.Discard,
		}
		for _, o := range opts {
			o(i, &cfg)
		}
		cfg.WrapConn = c.net.wrap(i, cfg.WrapConn)
		c.cfgs = append(c.cfgs, cfg)
		c.nodes = append(c.nodes, nil)
		c.obs = append(c.obs, nil)
		c.open(i)
		// Restarts must come back on the same address: raft's
		// configuration names it.
		addr := c.Node(i).Addr()
		c.nmu.Lock()
		c.cfgs[i].Bind = addr
		c.nmu.Unlock()
		c.net.mu.Lock()
		c.net.addrs[addr] = i
		c.net.mu.Unlock()
		servers = append(servers, coordinator.Server{ID: cfg.ID, Addr: addr, Voter: true})
	}
	t.Cleanup(c.Close)
	if err := c.Node(0).Bootstrap(servers); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	return c
}

func (c *Cluster) open(i int) {
	c.t.Helper()
	c.nmu.Lock()
	cfg := c.cfgs[i]
	c.nmu.Unlock()
	n, err := coordinator.Open(cfg)
	if err != nil {
		c.t.Fatalf("open node %d: %v", i, err)
	}
	obs := make(chan raft.Observation, 16)
	n.Raft().RegisterObserver(raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	}))
	go func() {
		for range obs {
			c.mu.Lock()
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
	}()
	c.nmu.Lock()
	c.nodes[i] = n
	c.obs[i] = obs
	c.nmu.Unlock()
}

// stop shuts node i down and ends its observer; it reports false when the
// node was not running.
func (c *Cluster) stop(i int) (bool, error) {
	c.nmu.Lock()
	n, obs := c.nodes[i], c.obs[i]
	c.nodes[i], c.obs[i] = nil, nil
	c.nmu.Unlock()
	if n == nil {
		return false, nil
	}
	err := n.Shutdown()
	close(obs) // raft sends no observation after Shutdown
	return true, err
}

// Len is the number of nodes, live or killed.
func (c *Cluster) Len() int {
	c.nmu.Lock()
	defer c.nmu.Unlock()
	return len(c.nodes)
}

// Node returns node i, nil while it is killed.
func (c *Cluster) Node(i int) *coordinator.Node {
	c.nmu.Lock()
	defer c.nmu.Unlock()
	return c.nodes[i]
}

// Live returns the indexes of the nodes that run.
func (c *Cluster) Live() []int {
	c.nmu.Lock()
	defer c.nmu.Unlock()
	var out []int
	for i, n := range c.nodes {
		if n != nil {
			out = append(out, i)
		}
	}
	return out
}

// Leader waits until a live node is the leader and returns its index.
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	return c.waitLeader(ctx, func(int) bool { return true })
}

// NewLeader waits until a live node other than old is the leader (old
// may still believe it leads, cut off by a partition) and returns it.
func (c *Cluster) NewLeader(ctx context.Context, old int) (int, error) {
	return c.waitLeader(ctx, func(i int) bool { return i != old })
}

func (c *Cluster) waitLeader(ctx context.Context, accept func(int) bool) (int, error) {
	for {
		c.mu.Lock()
		ch := c.changed // taken before looking, so no change is missed
		c.mu.Unlock()
		for _, i := range c.Live() {
			if n := c.Node(i); n != nil && accept(i) && n.IsLeader() {
				return i, nil
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return -1, fmt.Errorf("no leader among live nodes %v: %w", c.Live(), ctx.Err())
		}
	}
}

// Kill stops node i abruptly (no leadership transfer, no leaving); its
// data directory stays for Restart.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	ok, err := c.stop(i)
	if !ok {
		c.t.Fatalf("kill node %d: already killed", i)
	}
	if err != nil {
		c.t.Fatalf("kill node %d: %v", i, err)
	}
}

// Restart opens a killed node again from its data directory, on its old
// address, with a fresh ledger that it rebuilds from its snapshot, its log
// and the leader.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	if c.Node(i) != nil {
		c.t.Fatalf("restart node %d: it is running", i)
	}
	c.open(i)
}

// WaitApplied waits until every live node has applied index.
func (c *Cluster) WaitApplied(ctx context.Context, index uint64) error {
	for _, i := range c.Live() {
		n := c.Node(i)
		if n == nil {
			continue
		}
		if err := n.WaitApplied(ctx, index); err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
	}
	return nil
}

// EnsureSame waits until every live node has applied what the leader has
// committed and checks that their ledgers are identical (state hash) and
// keep their invariants. Call it when nothing is being proposed.
func (c *Cluster) EnsureSame(ctx context.Context) error {
	li, err := c.Leader(ctx)
	if err != nil {
		return err
	}
	leader := c.Node(li)
	if leader == nil {
		return fmt.Errorf("leader %d was killed", li)
	}
	if err := leader.Barrier(ctx); err != nil {
		return err
	}
	want := leader.Ledger().View()
	if err := c.WaitApplied(ctx, want.Applied()); err != nil {
		return err
	}
	wantHash := want.Hash()
	for _, i := range c.Live() {
		n := c.Node(i)
		if n == nil {
			return fmt.Errorf("node %d was killed during EnsureSame", i)
		}
		v := n.Ledger().View()
		if v.Applied() != want.Applied() {
			return fmt.Errorf("node %d applied %d, the leader %d: something is still being proposed", i, v.Applied(), want.Applied())
		}
		if h := v.Hash(); h != wantHash {
			return fmt.Errorf("node %d differs from the leader %d at index %d", i, li, v.Applied())
		}
		if err := v.CheckInvariants(); err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
	}
	return nil
}

// Close shuts down every live node.
func (c *Cluster) Close() {
	for i := range c.Len() {
		if _, err := c.stop(i); err != nil {
			c.t.Errorf("shut down node %d: %v", i, err)
		}
	}
}
