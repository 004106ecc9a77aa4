package coordinator_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/upstream"
)

// leaseWatch is an upstream whose leases are checked against a bound on
// the ledger's queued cores: before a lease is ingested, the queued cores
// plus the leased ones must stay within max.
type leaseWatch struct {
	upstream.Queue
	ledger func() ledger.View
	max    int

	mu     sync.Mutex
	leased int
	over   string // the first lease past max
}

func (w *leaseWatch) Lease(ctx context.Context, req upstream.LeaseRequest) ([]upstream.Leased, error) {
	got, err := w.Queue.Lease(ctx, req)
	queued := 0
	w.ledger().WalkQueued(func(t *ledger.Task) bool {
		queued += t.Spec.Cores
		return false
	})
	cores := 0
	for _, t := range got {
		cores += t.Spec.Cores
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.leased += len(got)
	if queued+cores > w.max && w.over == "" {
		w.over = fmt.Sprintf("%d queued cores + %d leased > %d", queued, cores, w.max)
	}
	return got, err
}

// TestLeaderLeasesPastTasksWaitingForWalltime: near the end of the only
// pilot, the first window is all long tasks that cannot finish in time.
// They do not count against the window, so the short tasks behind them
// are leased and run; and the ledger never holds more than one more
// window of such tasks (the rest stay upstream, promise 6).
func TestLeaderLeasesPastTasksWaitingForWalltime(t *testing.T) {
	// 4 cores, an hour left: the window is 2 x 4 = 8 cores.
	r := newLeaderRig(t, 20*time.Second, ledger.NodeInfo{ID: "n1", Cores: 4, PilotEnd: time.Now().Add(time.Hour).UnixNano()})
	w := &leaseWatch{Queue: queueFile(t, slices.Concat(specs("long", 12, 10*3600), specs("short", 4, 60), specs("late", 20, 10*3600))), ledger: r.node.Ledger().View, max: 16}
	r.run(t, w)
	r.waitDispatches(t, func() bool { s, _ := r.assigned("short"); return s == 4 }, func() string {
		s, o := r.assigned("short")
		return fmt.Sprintf("the short tasks behind a window of long ones never ran: %d short, %d other assigned (waiting %v)", s, o, r.leader.Waiting())
	})
	if _, other := r.assigned("short"); other != 0 {
		t.Errorf("%d long tasks assigned to a pilot with an hour left", other)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.over != "" {
		t.Errorf("the ledger grew past two windows: %s", w.over)
	}
	if w.leased > 16+4 {
		t.Errorf("%d tasks leased: more than two windows of 8 cores and the 4 short tasks that ran", w.leased)
	}
}
