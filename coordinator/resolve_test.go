package coordinator_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pilot-hpc/pilot/coordinator"
)

// TestRestartOnNewPortsWithResolve restarts every voter of a cluster on
// new ports (agents restarted on their nodes bind any free port): the Raft
// configuration names only the old addresses, so the nodes find each other
// through Config.Resolve (gossip, in the agent), elect a leader and keep
// their ledger. Without Resolve no node could reach another.
func TestRestartOnNewPortsWithResolve(t *testing.T) {
	ctx := testCtx(t)
	var addrs sync.Map
	resolve := func(id string) string {
		a, _ := addrs.Load(id)
		s, _ := a.(string)
		return s
	}
	base := t.TempDir()
	ids := []string{"v0", "v1", "v2"}
	open := func() []*coordinator.Node {
		var nodes []*coordinator.Node
		for _, id := range ids {
			n, err := coordinator.Open(coordinator.Config{
				ID: id, Dir: filepath.Join(base, id), Bind: "127.0.0.1:0", Resolve: resolve,
				Timeouts: coordinator.LoopbackTimeouts,
				Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)), RaftLogOutput: io.Discard,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { n.Shutdown() })
			addrs.Store(id, n.Addr())
			nodes = append(nodes, n)
		}
		return nodes
	}
	nodes := open()
	var servers []coordinator.Server
	for _, n := range nodes {
		servers = append(servers, coordinator.Server{ID: n.ID(), Addr: n.Addr(), Voter: true})
	}
	if err := nodes[0].Bootstrap(servers); err != nil {
		t.Fatal(err)
	}
	leader := waitLeader(t, ctx, nodes)
	out, err := leader.Propose(ctx, ingestN(0, 5))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if err := n.WaitApplied(ctx, out.Index); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		if err := n.Shutdown(); err != nil {
			t.Fatal(err)
		}
	}

	nodes = open() // every node on a new port
	for i, n := range nodes {
		if n.Addr() == servers[i].Addr {
			t.Skipf("node %s got its old port %s again", n.ID(), n.Addr())
		}
	}
	leader = waitLeader(t, ctx, nodes)
	out, err = leader.Propose(ctx, ingestN(5, 5))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if err := n.WaitApplied(ctx, out.Index); err != nil {
			t.Fatal(err)
		}
		if q := n.Ledger().Counts().Queued; q != 10 {
			t.Fatalf("node %s holds %d tasks after the restart, want 10", n.ID(), q)
		}
	}
}

// waitLeader waits for one of nodes to become the leader.
func waitLeader(t *testing.T, ctx context.Context, nodes []*coordinator.Node) *coordinator.Node {
	t.Helper()
	became := make(chan *coordinator.Node, len(nodes))
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, n := range nodes {
		go func() {
			for {
				select {
				case <-wctx.Done():
					return
				case leads := <-n.LeaderCh():
					if leads {
						became <- n
						return
					}
				}
			}
		}()
	}
	for _, n := range nodes { // one may have led before the watch began
		if n.IsLeader() {
			return n
		}
	}
	select {
	case n := <-became:
		return n
	case <-ctx.Done():
		t.Fatalf("no leader among %d nodes: %v", len(nodes), ctx.Err())
		return nil
	}
}
