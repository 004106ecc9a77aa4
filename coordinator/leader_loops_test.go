package coordinator_test

import (
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

// hangingQueue answers its first lease and hangs every later call to the
// queue until released: a queue server that stopped answering.
type hangingQueue struct {
	upstream.Queue
	once    sync.Once
	leased  chan struct{} // closed after the first lease
	release chan struct{}
}

func (q *hangingQueue) Lease(ctx context.Context, req upstream.LeaseRequest) ([]upstream.Leased, error) {
	first := false
	q.once.Do(func() { first = true })
	if first {
		defer close(q.leased)
		return q.Queue.Lease(ctx, req)
	}
	return nil, q.hang(ctx)
}

func (q *hangingQueue) Complete(ctx context.Context, cluster string, results []task.Result) (upstream.CompleteReport, error) {
	return upstream.CompleteReport{}, q.hang(ctx)
}

func (q *hangingQueue) Renew(ctx context.Context, cluster string, ids []string, ttl time.Duration) ([]string, error) {
	return nil, q.hang(ctx)
}

func (q *hangingQueue) hang(ctx context.Context) error {
	select {
	case <-q.release:
		return fmt.Errorf("the queue server is gone")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestLeaderPlacesWhileUpstreamHangs: with the queue server hung after
// the first lease, the tasks the ledger holds are still placed on a node
// that joins afterwards (placement never waits on upstream I/O).
func TestLeaderPlacesWhileUpstreamHangs(t *testing.T) {
	c := coordtest.New(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	li, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := c.Node(li)
	joined := func(id string) ledger.AgentJoined {
		return ledger.AgentJoined{At: 1, Node: ledger.NodeInfo{ID: id, Cores: 1, Pilot: "p1", Addr: "127.0.0.1:1"}}
	}
	if _, err := node.Propose(ctx, joined("n1")); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := range 4 {
		b, _ := json.Marshal(task.Spec{ID: fmt.Sprintf("t%d", i), Cmd: []string{"x"}, EstS: 100})
		lines = append(lines, string(b))
	}
	qpath := filepath.Join(t.TempDir(), "q.jsonl")
	if err := os.WriteFile(qpath, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fq, err := upstream.OpenFile(qpath, upstream.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer fq.Close()
	q := &hangingQueue{Queue: fq, leased: make(chan struct{}), release: make(chan struct{})}
	defer close(q.release)
	d := &acceptAll{more: make(chan struct{}, 1)}
	l := coordinator.NewLeader(node, coordinator.LeaderConfig{Cluster: "c1", Queue: q, Dispatch: d, Interval: 20 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()

	assigned := func() int { return len(node.Ledger().View().InState(ledger.Assigned)) }
	<-q.leased
	for assigned() < 1 {
		select {
		case <-d.more:
		case <-ctx.Done():
			t.Fatal("the first task was never placed")
		}
	}
	// The queue hangs from now on. A second node joins: a task the
	// ledger holds goes to it.
	if _, err := node.Propose(ctx, joined("n2")); err != nil {
		t.Fatal(err)
	}
	l.Kick()
	for assigned() < 2 {
		select {
		case <-d.more:
		case <-ctx.Done():
			t.Fatalf("no task placed on the new node while the queue hung: %d assigned", assigned())
		}
	}
}
