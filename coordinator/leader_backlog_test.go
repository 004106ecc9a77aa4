package coordinator_test

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/task"
)

// TestLeaderBacklogsHoldOnlyShortTasks: idle cores take any task, but a
// node's backlog (its prefetch allowance) takes only tasks expected to end
// within backlogMaxEst; long tasks and tasks of unknown runtime wait at
// the leader for whichever node frees up first.
func TestLeaderBacklogsHoldOnlyShortTasks(t *testing.T) {
	r := newLeaderRig(t, 20*time.Second, ledger.NodeInfo{ID: "n1", Cores: 2, Prefetch: 16})
	// The short tasks come first: the window grows to the backlogs' room
	// only once short tasks fill backlogs.
	r.run(t, queueFile(t, slices.Concat(specs("short", 10, 0.1), specs("long", 10, 100), specs("unknown", 10, 0))))
	r.waitDispatches(t, func() bool { s, _ := r.assigned("short"); return s == 10 }, func() string {
		s, o := r.assigned("short")
		return fmt.Sprintf("the short tasks never all reached the backlog: %d short, %d other assigned", s, o)
	})
	// Two short tasks took the idle cores, eight wait in the backlog; its
	// room left is for short tasks only. (All in one Assign entry: a long
	// task put in the backlog would be there now.)
	if _, other := r.assigned("short"); other != 0 {
		t.Fatalf("%d long or unknown tasks assigned to a node whose cores are busy: backlogs take only short tasks", other)
	}
}

// TestLeaderFillsCoresTheBacklogCannot: a node runs a one-core task and
// its backlog holds only two-core ones (the agent starts narrow tasks
// first, so backlogs drift that way), so a core that frees would idle.
// The backlog is not a quarter free, which is when it is refilled, but the
// leader sends it one one-core task at once, and only one.
func TestLeaderFillsCoresTheBacklogCannot(t *testing.T) {
	// Tasks of 0.9 s: a backlog of 2 cores × 4 s / 0.9 s = 8 cores,
	// which the 4 two-core tasks below fill but for one core.
	r := newLeaderRig(t, 20*time.Second, ledger.NodeInfo{ID: "n1", Cores: 2, Prefetch: 16})
	leased := []ledger.Leased{{Spec: specs("run", 1, 0.9)[0]}}
	assign := ledger.Assign{At: 2, Items: []ledger.Assignment{{Task: "run00", Node: "n1", Attempt: 1}}}
	for _, s := range specs("wide", 4, 0.9) {
		s.Cores = 2
		leased = append(leased, ledger.Leased{Spec: s})
		assign.Items = append(assign.Items, ledger.Assignment{Task: s.ID, Node: "n1", Attempt: 1})
	}
	for i, c := range []ledger.Command{
		ledger.Ingest{At: 1, Tasks: leased},
		assign,
		ledger.Started{At: 3, Items: []ledger.AttemptRef{{Task: "run00", Attempt: 1}}},
	} {
		if out, err := r.node.Propose(r.ctx, c); err != nil || out.Err() != nil {
			t.Fatalf("command %d: %v %v", i, err, out.Err())
		}
	}
	r.run(t, queueFile(t, specs("narrow", 4, 0.9)))
	r.waitDispatches(t, func() bool { n, _ := r.assigned("narrow"); return n > 0 }, func() string {
		return "no one-core task was sent for the core the backlog's two-core tasks cannot use"
	})
	if n, _ := r.assigned("narrow"); n != 1 {
		t.Fatalf("%d one-core tasks sent for one stranded core", n)
	}
}

// TestLeaderSendsBacklogsLongestFirst: a node starts its backlog in the
// order it gets it, so the leader sends it the longest tasks first (to the
// millisecond: Place orders needs to the second only), and the last tasks
// of a campaign end together.
func TestLeaderSendsBacklogsLongestFirst(t *testing.T) {
	r := newLeaderRig(t, 20*time.Second, ledger.NodeInfo{ID: "n1", Cores: 1, Prefetch: 16})
	ests := []float64{0.2, 0.1, 0.4, 0.3, 0.5, 0.25, 0.45, 0.15}
	var all []task.Spec
	est := map[string]float64{}
	for i, e := range ests {
		s := specs(fmt.Sprintf("t%d-", i), 1, e)[0]
		all, est[s.ID] = append(all, s), e
	}
	r.run(t, queueFile(t, all))
	r.waitDispatches(t, func() bool { n, _ := r.assigned("t"); return n == len(all) }, func() string {
		n, _ := r.assigned("t")
		return fmt.Sprintf("%d of %d tasks assigned", n, len(all))
	})
	r.disp.mu.Lock()
	defer r.disp.mu.Unlock()
	longest := 0
	for _, ids := range r.disp.sends {
		longest = max(longest, len(ids))
		if !slices.IsSortedFunc(ids, func(a, b string) int { return cmp.Compare(est[b], est[a]) }) {
			t.Errorf("sent %v: not the longest first", ids)
		}
	}
	if longest < 3 {
		t.Fatalf("no dispatch sent 3 tasks or more (%v): the order went untested", r.disp.sends)
	}
}
