package coordinator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/coordinator/coordtest"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/task"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func leaderOf(t *testing.T, ctx context.Context, c *coordtest.Cluster) (int, *coordinator.Node) {
	t.Helper()
	li, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return li, c.Node(li)
}

func ingestN(from, n int) ledger.Ingest {
	c := ledger.Ingest{At: 1}
	for i := from; i < from+n; i++ {
		id := fmt.Sprintf("t%05d", i)
		c.Tasks = append(c.Tasks, ledger.Leased{Spec: task.Spec{ID: id, Cmd: []string{"true"}}, Lease: "l-" + id})
	}
	return c
}

// openExtra starts one more node, not yet in the cluster.
func openExtra(t *testing.T, id string, wrap coordinator.ConnWrapper) *coordinator.Node {
	t.Helper()
	n, err := coordinator.Open(coordinator.Config{
		ID: id, Dir: filepath.Join(t.TempDir(), id), Bind: "127.0.0.1:0", WrapConn: wrap,
		Timeouts: coordinator.LoopbackTimeouts,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)), RaftLogOutput: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() })
	return n
}

func TestProposeOnFollowerNamesTheLeader(t *testing.T) {
	ctx := testCtx(t)
	c := coordtest.New(t, 3)
	li, leader := leaderOf(t, ctx, c)
	out, err := leader.Propose(ctx, ingestN(0, 3))
	if err != nil || out.Applied != 3 {
		t.Fatalf("propose on the leader: %+v, %v", out, err)
	}
	f := c.Node((li + 1) % 3)
	if err := f.WaitApplied(ctx, out.Index); err != nil {
		t.Fatal(err)
	}
	_, err = f.Propose(ctx, ingestN(3, 1))
	var nl *coordinator.NotLeaderError
	if !errors.Is(err, coordinator.ErrNotLeader) || !errors.As(err, &nl) {
		t.Fatalf("propose on a follower: %v, want a NotLeaderError", err)
	}
	if nl.LeaderAddr != leader.Addr() || nl.LeaderID != leader.ID() {
		t.Fatalf("the error names %s at %s, the leader is %s at %s", nl.LeaderID, nl.LeaderAddr, leader.ID(), leader.Addr())
	}
	// Refusals come back in the outcome, the same on every replica.
	out, err = leader.Propose(ctx, ingestN(0, 1))
	if err != nil || len(out.Refused) != 1 || out.Refused[0].Code != ledger.CodeDuplicateTask {
		t.Fatalf("a duplicate ingest: %+v, %v", out, err)
	}
	if err := c.EnsureSame(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRestartedFollowerCatchesUp(t *testing.T) {
	ctx := testCtx(t)
	c := coordtest.New(t, 3)
	li, leader := leaderOf(t, ctx, c)
	if _, err := leader.Propose(ctx, ingestN(0, 10)); err != nil {
		t.Fatal(err)
	}
	fi := (li + 1) % 3
	c.Kill(fi)
	var last uint64
	for i := 1; i <= 100; i++ { // beyond the snapshot threshold and the trailing logs
		out, err := leader.Propose(ctx, ingestN(i*10, 10))
		if err != nil {
			t.Fatal(err)
		}
		last = out.Index
	}
	// A snapshot now makes the follower catch up by InstallSnapshot.
	if err := leader.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	c.Restart(fi)
	if err := c.Node(fi).WaitApplied(ctx, last); err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureSame(ctx); err != nil {
		t.Fatal(err)
	}
	if n := c.Node(fi).Ledger().Counts().Queued; n != 1010 {
		t.Fatalf("the restarted follower holds %d tasks, want 1010", n)
	}
	// Bootstrapping a node that has state is a no-op.
	n := c.Node(fi)
	if err := n.Bootstrap([]coordinator.Server{{ID: n.ID(), Addr: n.Addr(), Voter: true}}); err != nil {
		t.Fatal(err)
	}
	if err := n.Bootstrap([]coordinator.Server{{ID: "x", Addr: "127.0.0.1:1", Voter: true}}); err == nil {
		t.Fatal("bootstrap without this node accepted")
	}
}

func TestMembershipAndLeadershipTransfer(t *testing.T) {
	ctx := testCtx(t)
	c := coordtest.New(t, 3)
	_, leader := leaderOf(t, ctx, c)
	out, err := leader.Propose(ctx, ingestN(0, 5))
	if err != nil {
		t.Fatal(err)
	}
	extra := openExtra(t, "extra", nil)
	if err := extra.WaitApplied(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := leader.AddNonvoter(ctx, extra.ID(), extra.Addr()); err != nil {
		t.Fatal(err)
	}
	if err := extra.WaitApplied(ctx, out.Index); err != nil {
		t.Fatal(err)
	}
	if voter(t, ctx, leader, "extra") {
		t.Fatal("a non-voter votes")
	}
	if err := leader.AddVoter(ctx, extra.ID(), extra.Addr()); err != nil {
		t.Fatal(err)
	}
	if !voter(t, ctx, leader, "extra") {
		t.Fatal("the promoted node does not vote")
	}
	// Hand leadership to the new voter; the old leader then refuses writes.
	if err := leader.TransferLeadershipTo(ctx, extra.ID(), extra.Addr()); err != nil {
		t.Fatal(err)
	}
	select {
	case became := <-extra.LeaderCh():
		if !became {
			t.Fatal("the new voter reports losing a leadership it never had")
		}
	case <-ctx.Done():
		t.Fatal("the transfer target never became leader")
	}
	if _, err := leader.Propose(ctx, ingestN(5, 1)); !errors.Is(err, coordinator.ErrNotLeader) {
		t.Fatalf("the old leader took a write: %v", err)
	}
	if _, err := extra.Propose(ctx, ingestN(5, 1)); err != nil {
		t.Fatal(err)
	}
	// The old leader leaves: demoted, then removed.
	if err := extra.DemoteVoter(ctx, leader.ID()); err != nil {
		t.Fatal(err)
	}
	if voter(t, ctx, extra, leader.ID()) {
		t.Fatal("the demoted node still votes")
	}
	if err := extra.RemoveServer(ctx, leader.ID()); err != nil {
		t.Fatal(err)
	}
	servers, err := extra.Configuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != 3 {
		t.Fatalf("configuration %+v, want 3 servers", servers)
	}
	for _, s := range servers {
		if s.ID == leader.ID() {
			t.Fatalf("the removed server is still in %+v", servers)
		}
	}
	if err := extra.TransferLeadership(ctx); err != nil {
		t.Fatal(err)
	}
}

func voter(t *testing.T, ctx context.Context, n *coordinator.Node, id string) bool {
	t.Helper()
	servers, err := n.Configuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		if s.ID == id {
			return s.Voter
		}
	}
	t.Fatalf("%s is not in the configuration %+v", id, servers)
	return false
}

// tokenWrapper is a stand-in for campaign-key authentication: the dialer
// sends a token, the acceptor checks it.
type tokenWrapper struct {
	token    []byte
	dialed   atomic.Int64
	accepted atomic.Int64
	refused  chan struct{} // receives once per refused connection
}

func newTokenWrapper(token string) *tokenWrapper {
	return &tokenWrapper{token: []byte(token), refused: make(chan struct{}, 64)}
}

func (w *tokenWrapper) wrap(conn net.Conn, isDialer bool) (net.Conn, error) {
	if isDialer {
		w.dialed.Add(1)
		_, err := conn.Write(w.token)
		return conn, err
	}
	got := make([]byte, len(w.token))
	if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, w.token) {
		select {
		case w.refused <- struct{}{}:
		default:
		}
		return nil, errors.New("wrong campaign token")
	}
	w.accepted.Add(1)
	return conn, nil
}

func TestConnWrapperGuardsTheTransport(t *testing.T) {
	ctx := testCtx(t)
	good := newTokenWrapper("campaign-key-1")
	c := coordtest.New(t, 3, func(_ int, cfg *coordinator.Config) { cfg.WrapConn = good.wrap })
	_, leader := leaderOf(t, ctx, c)
	out, err := leader.Propose(ctx, ingestN(0, 2))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitApplied(ctx, out.Index); err != nil {
		t.Fatal(err)
	}
	if good.dialed.Load() == 0 || good.accepted.Load() == 0 {
		t.Fatalf("the wrapper ran %d times dialing, %d accepting", good.dialed.Load(), good.accepted.Load())
	}
	// A node with another key is added by the leader, but refuses the
	// leader's connections and so never receives the ledger.
	stranger := newTokenWrapper("campaign-key-2")
	other := openExtra(t, "stranger", stranger.wrap)
	if err := leader.AddNonvoter(ctx, other.ID(), other.Addr()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stranger.refused:
	case <-ctx.Done():
		t.Fatal("the stranger never refused the leader's connection")
	}
	if n := other.Ledger().Applied(); n != 0 || stranger.accepted.Load() != 0 {
		t.Fatalf("the stranger applied up to %d and accepted %d connections", n, stranger.accepted.Load())
	}
}

func TestPartitionedLeaderIsReplacedAndCatchesUp(t *testing.T) {
	ctx := testCtx(t)
	c := coordtest.New(t, 3)
	li, old := leaderOf(t, ctx, c)
	if _, err := old.Propose(ctx, ingestN(0, 5)); err != nil {
		t.Fatal(err)
	}
	c.Partition([]int{li})
	// The isolated leader cannot commit: it steps down, and the outcome
	// of what it was given is unknown to the proposer.
	_, err := old.Propose(ctx, ingestN(100, 1))
	if !errors.Is(err, coordinator.ErrMaybeCommitted) && !errors.Is(err, coordinator.ErrNotLeader) {
		t.Fatalf("a proposal to the isolated leader: %v", err)
	}
	nl, err := c.NewLeader(ctx, li)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Node(nl).Propose(ctx, ingestN(5, 5))
	if err != nil {
		t.Fatal(err)
	}
	c.Heal()
	if err := old.WaitApplied(ctx, out.Index); err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureSame(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := old.Ledger().View().Task("t00100"); ok {
		t.Fatal("the isolated leader's write survived the partition")
	}
	if n := old.Ledger().Counts().Queued; n != 10 {
		t.Fatalf("the healed node holds %d tasks, want 10", n)
	}
}

func TestProposeRefusesAnOversizedEntry(t *testing.T) {
	ctx := testCtx(t)
	c := coordtest.New(t, 1)
	_, n := leaderOf(t, ctx, c)
	big := ledger.Ingest{At: 1}
	for i := 0; len(big.Tasks)*task.MaxInputBytes <= coordinator.MaxEntryBytes; i++ {
		id := fmt.Sprintf("big%03d", i)
		big.Tasks = append(big.Tasks, ledger.Leased{Spec: task.Spec{ID: id, Cmd: []string{"x"}, Input: string(make([]byte, task.MaxInputBytes))}})
	}
	if _, err := n.Propose(ctx, big); err == nil || !strings.Contains(err.Error(), "split the batch") {
		t.Fatalf("an oversized entry: %v", err)
	}
	if n.Ledger().Applied() != 0 {
		t.Fatal("an oversized entry reached the log")
	}
}
