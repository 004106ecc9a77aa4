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

// acceptAll is a Dispatcher whose nodes take every attempt and never
// report: what the leader assigned stays assigned.
type acceptAll struct {
	mu   sync.Mutex
	sent int
	more chan struct{}
}

func (d *acceptAll) Dispatch(_ context.Context, _ ledger.Node, work []coordinator.Work) ([]ledger.AttemptRef, error) {
	d.mu.Lock()
	d.sent += len(work)
	d.mu.Unlock()
	select {
	case d.more <- struct{}{}:
	default:
	}
	return nil, nil
}

func (d *acceptAll) Cancel(context.Context, ledger.Node, []ledger.AttemptRef) error { return nil }

// TestLeaderBacklogsHoldOnlyShortTasks: idle cores take any task, but a
// node's backlog (its prefetch allowance) takes only tasks expected to end
// within backlogMaxEst; long tasks and tasks of unknown runtime wait at
// the leader for whichever node frees up first.
func TestLeaderBacklogsHoldOnlyShortTasks(t *testing.T) {
	c := coordtest.New(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	li, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := c.Node(li)
	join := ledger.AgentJoined{At: 1, Node: ledger.NodeInfo{ID: "n1", Cores: 2, Prefetch: 16, Pilot: "p1", Addr: "127.0.0.1:1"}}
	if _, err := node.Propose(ctx, join); err != nil {
		t.Fatal(err)
	}
	// The short tasks come first: the window grows to the backlogs' room
	// only once short tasks fill backlogs.
	var lines []string
	add := func(prefix string, n int, est float64) {
		for i := range n {
			b, _ := json.Marshal(task.Spec{ID: fmt.Sprintf("%s%d", prefix, i), Cmd: []string{prefix}, EstS: est})
			lines = append(lines, string(b))
		}
	}
	add("short", 10, 0.1)
	add("long", 10, 100)
	add("unknown", 10, 0)
	qpath := filepath.Join(t.TempDir(), "q.jsonl")
	if err := os.WriteFile(qpath, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := upstream.OpenFile(qpath, upstream.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	d := &acceptAll{more: make(chan struct{}, 1)}
	l := coordinator.NewLeader(node, coordinator.LeaderConfig{Cluster: "c1", Queue: q, Dispatch: d, Interval: 20 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()

	count := func() (short, other int) {
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
		if s, _ := count(); s == 10 {
			break
		}
		select {
		case <-d.more:
		case <-ctx.Done():
			s, o := count()
			t.Fatalf("the short tasks never all reached the backlog: %d short, %d other assigned", s, o)
		}
	}
	// Two short tasks took the idle cores, eight wait in the backlog; its
	// room left is for short tasks only. (All in one Assign entry: a long
	// task put in the backlog would be there now.)
	if _, other := count(); other != 0 {
		t.Fatalf("%d long or unknown tasks assigned to a node whose cores are busy: backlogs take only short tasks", other)
	}
}
