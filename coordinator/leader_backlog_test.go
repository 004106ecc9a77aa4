package coordinator_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
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
