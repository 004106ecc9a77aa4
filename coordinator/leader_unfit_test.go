package coordinator_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/upstream"
)

// smallLeases is an upstream that hands out at most max tasks a lease, as
// a queue may.
type smallLeases struct {
	upstream.Queue
	max int
}

func (q smallLeases) Lease(ctx context.Context, req upstream.LeaseRequest) ([]upstream.Leased, error) {
	req.MaxTasks = min(req.MaxTasks, q.max)
	return q.Queue.Lease(ctx, req)
}

// TestLeaderLeasesPastTasksTooWideForTheGaps: a 4-core node (a window of
// 8 cores), a queue of 3-core tasks and then 1-core ones, leased 3 at a
// time. One 3-core task runs and never ends; two wait for cores while a
// core idles. They do not count against the window (sched.Plan.Unfit),
// so more is leased, and a 1-core task fills the idle core.
func TestLeaderLeasesPastTasksTooWideForTheGaps(t *testing.T) {
	r := newLeaderRig(t, 20*time.Second, ledger.NodeInfo{ID: "n1", Cores: 4, PilotEnd: time.Now().Add(24 * time.Hour).UnixNano()})
	wide := specs("wide", 4, 600)
	for i := range wide {
		wide[i].Cores = 3
	}
	r.run(t, smallLeases{Queue: queueFile(t, slices.Concat(wide, specs("narrow", 4, 600))), max: 3})
	r.waitDispatches(t, func() bool { n, _ := r.assigned("narrow"); return n == 1 }, func() string {
		n, o := r.assigned("narrow")
		return fmt.Sprintf("no narrow task came to fill the idle core: %d narrow, %d other assigned (waiting %v)", n, o, r.leader.Waiting())
	})
	if n, o := r.assigned("narrow"); n != 1 || o != 1 {
		t.Errorf("%d narrow and %d wide tasks assigned on 4 cores, want 1 and 1", n, o)
	}
}
