package coordinator_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

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
	r := newLeaderRig(t, 20*time.Second, ledger.NodeInfo{ID: "n1", Cores: 1})
	q := &hangingQueue{Queue: queueFile(t, specs("t", 4, 100)), leased: make(chan struct{}), release: make(chan struct{})}
	defer close(q.release)
	r.run(t, q)
	<-q.leased
	r.waitDispatches(t, func() bool { _, n := r.assigned("none"); return n >= 1 }, func() string { return "the first task was never placed" })
	// The queue hangs from now on. A second node joins: a task the
	// ledger holds goes to it.
	r.join(t, ledger.NodeInfo{ID: "n2", Cores: 1})
	r.leader.Kick()
	r.waitDispatches(t, func() bool { _, n := r.assigned("none"); return n >= 2 }, func() string {
		_, n := r.assigned("none")
		return fmt.Sprintf("no task placed on the new node while the queue hung: %d assigned", n)
	})
}
