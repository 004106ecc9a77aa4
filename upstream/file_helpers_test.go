package upstream

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// clock is a fake clock for lease expiry: tests move it, never sleep.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// taskLine is a valid queue line for task i.
func taskLine(i int) string { return fmt.Sprintf(`{"id":"t-%06d","cmd":["true"]}`, i) }

func taskID(i int) string { return fmt.Sprintf("t-%06d", i) }

// fataler is what the helpers need of a test: testing.TB or *rapid.T.
type fataler interface {
	Helper()
	Fatal(args ...any)
}

// appendRaw appends s to path as a user would by hand.
func appendRaw(t fataler, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// openQ opens the file queue at path with a fake clock.
func openQ(t testing.TB, path string, c *clock, mod ...func(*FileOptions)) *FileQueue {
	t.Helper()
	opts := FileOptions{Create: true, Now: c.Now, Logger: slog.New(slog.DiscardHandler)}
	for _, m := range mod {
		m(&opts)
	}
	q, err := OpenFile(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// newQ makes a queue file with n task lines and opens it.
func newQ(t testing.TB, n int, c *clock, mod ...func(*FileOptions)) (*FileQueue, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tasks.jsonl")
	w := new(bufWriter)
	for i := 0; i < n; i++ {
		w.line(taskLine(i))
	}
	if err := os.WriteFile(path, w.b, 0o600); err != nil {
		t.Fatal(err)
	}
	return openQ(t, path, c, mod...), path
}

type bufWriter struct{ b []byte }

func (w *bufWriter) line(s string) { w.b = append(append(w.b, s...), '\n') }

// leaseAll leases until nothing is left, as one cluster, and returns the ids.
func leaseAll(t testing.TB, q *FileQueue, cluster string, batch int) []string {
	t.Helper()
	var ids []string
	for {
		ls, err := q.Lease(context.Background(), LeaseRequest{Cluster: cluster, MaxTasks: batch, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) == 0 {
			return ids
		}
		for _, l := range ls {
			ids = append(ids, l.Spec.ID)
		}
	}
}

func done(ids ...string) []task.Result {
	rs := make([]task.Result, len(ids))
	for i, id := range ids {
		rs[i] = task.Result{ID: id, State: task.StateDone, Attempts: 1}
	}
	return rs
}

// readResults reads results.jsonl whole, checking every line parses.
func readResults(t testing.TB, q *FileQueue) []task.Result {
	t.Helper()
	f, err := os.Open(filepath.Join(q.StateDir(), resultsFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []task.Result
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, maxResultLine)
	for sc.Scan() {
		var r task.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("results.jsonl line %d: %v: %q", len(out)+1, err, sc.Text())
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkInvariants checks what must hold whatever happened: every line in
// exactly one state, one result line per id, no lease on a finished task.
func checkInvariants(t testing.TB, q *FileQueue, lines int) Status {
	t.Helper()
	s, err := q.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum := s.Pending + s.Leased + s.Done + s.Failed + s.Flushed; sum != lines {
		t.Fatalf("status %+v sums to %d, the queue has %d lines", s, sum, lines)
	}
	seen := map[string]bool{}
	for _, r := range readResults(t, q) {
		if seen[r.ID] {
			t.Fatalf("two result lines for %q", r.ID)
		}
		seen[r.ID] = true
	}
	if len(seen) != s.Done+s.Failed {
		t.Fatalf("%d result lines, status says %d done + %d failed", len(seen), s.Done, s.Failed)
	}
	return s
}
