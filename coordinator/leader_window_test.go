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
	c := coordtest.New(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	li, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := c.Node(li)
	// 4 cores, an hour left: the window is 2 x 4 = 8 cores.
	end := time.Now().Add(time.Hour).UnixNano()
	join := ledger.AgentJoined{At: 1, Node: ledger.NodeInfo{ID: "n1", Cores: 4, PilotEnd: end, Pilot: "p1", Addr: "127.0.0.1:1"}}
	if _, err := node.Propose(ctx, join); err != nil {
		t.Fatal(err)
	}
	var lines []string
	add := func(prefix string, n int, est float64) {
		for i := range n {
			b, _ := json.Marshal(task.Spec{ID: fmt.Sprintf("%s%02d", prefix, i), Cmd: []string{prefix}, Cores: 1, EstS: est})
			lines = append(lines, string(b))
		}
	}
	add("long", 12, 10*3600)
	add("short", 4, 60)
	add("late", 20, 10*3600)
	qpath := filepath.Join(t.TempDir(), "q.jsonl")
	if err := os.WriteFile(qpath, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := upstream.OpenFile(qpath, upstream.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	w := &leaseWatch{Queue: q, ledger: node.Ledger().View, max: 16}
	d := &acceptAll{more: make(chan struct{}, 1)}
	l := coordinator.NewLeader(node, coordinator.LeaderConfig{Cluster: "c1", Queue: w, Dispatch: d, Interval: 20 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()

	assigned := func() (short, other int) {
		for _, tk := range node.Ledger().View().InState(ledger.Assigned) {
			if strings.HasPrefix(tk.Spec.ID, "short") {
				short++
			} else {
				other++
			}
		}
		return
	}
	for {
		if s, _ := assigned(); s == 4 {
			break
		}
		select {
		case <-d.more:
		case <-ctx.Done():
			s, o := assigned()
			t.Fatalf("the short tasks behind a window of long ones never ran: %d short, %d other assigned (waiting %v)", s, o, l.Waiting())
		}
	}
	if _, other := assigned(); other != 0 {
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
