package coordinator_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/coordinator/coordtest"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// acceptAll is a Dispatcher whose nodes take every attempt and never
// report: what the leader assigned stays assigned.
type acceptAll struct {
	mu    sync.Mutex
	sent  int
	sends [][]string // the tasks of each Dispatch, in the order sent
	more  chan struct{}
}

func (d *acceptAll) Dispatch(_ context.Context, _ ledger.Node, work []coordinator.Work) ([]ledger.AttemptRef, error) {
	d.mu.Lock()
	d.sent += len(work)
	var ids []string
	for _, w := range work {
		ids = append(ids, w.Spec.ID)
	}
	d.sends = append(d.sends, ids)
	d.mu.Unlock()
	select {
	case d.more <- struct{}{}:
	default:
	}
	return nil, nil
}

func (d *acceptAll) Cancel(context.Context, ledger.Node, []ledger.AttemptRef) error { return nil }

// leaderRig is the leader loop of a 1-node Raft cluster on 127.0.0.1,
// working a queue file for the nodes the test joins, which accept every
// attempt and never report.
type leaderRig struct {
	ctx    context.Context
	node   *coordinator.Node
	leader *coordinator.Leader
	disp   *acceptAll
	// interval is the leader loops' Interval (default 20 ms).
	interval time.Duration
}

// newLeaderRig starts the cluster and joins nodes to its ledger. The rig
// ends with the test, or when the test's deadline d passes.
func newLeaderRig(t *testing.T, d time.Duration, nodes ...ledger.NodeInfo) *leaderRig {
	t.Helper()
	c := coordtest.New(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	li, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := &leaderRig{ctx: ctx, node: c.Node(li), disp: &acceptAll{more: make(chan struct{}, 1)}}
	for _, n := range nodes {
		r.join(t, n)
	}
	return r
}

func (r *leaderRig) join(t *testing.T, n ledger.NodeInfo) {
	t.Helper()
	if n.Pilot == "" {
		n.Pilot, n.Addr = "p1", "127.0.0.1:1"
	}
	if _, err := r.node.Propose(r.ctx, ledger.AgentJoined{At: 1, Node: n}); err != nil {
		t.Fatal(err)
	}
}

// run starts the leader loop on q (wrap may wrap the queue file).
func (r *leaderRig) run(t *testing.T, q upstream.Queue) {
	t.Helper()
	interval := cmp.Or(r.interval, 20*time.Millisecond)
	r.leader = coordinator.NewLeader(r.node, coordinator.LeaderConfig{Cluster: "c1", Queue: q, Dispatch: r.disp, Interval: interval})
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan error, 1)
	go func() { done <- r.leader.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// assigned counts the assigned tasks whose id starts with prefix, and the
// others.
func (r *leaderRig) assigned(prefix string) (match, other int) {
	for _, tk := range r.node.Ledger().View().InState(ledger.Assigned) {
		if strings.HasPrefix(tk.Spec.ID, prefix) {
			match++
		} else {
			other++
		}
	}
	return
}

// waitDispatches waits, dispatch by dispatch, until done says so; at the
// deadline it fails with what why says.
func (r *leaderRig) waitDispatches(t *testing.T, done func() bool, why func() string) {
	t.Helper()
	for !done() {
		select {
		case <-r.disp.more:
		case <-r.ctx.Done():
			t.Fatal(why())
		}
	}
}

// queueFile writes specs to a new queue file and opens it.
func queueFile(t *testing.T, specs []task.Spec) *upstream.FileQueue {
	t.Helper()
	var lines []string
	for _, s := range specs {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	path := filepath.Join(t.TempDir(), "q.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := upstream.OpenFile(path, upstream.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// specs makes n one-core tasks named prefix00, prefix01, ... with est_s est.
func specs(prefix string, n int, est float64) []task.Spec {
	out := make([]task.Spec, n)
	for i := range out {
		out[i] = task.Spec{ID: fmt.Sprintf("%s%02d", prefix, i), Cmd: []string{prefix}, Cores: 1, EstS: est}
	}
	return out
}
