package upstream

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pilot-hpc/pilot/task"
)

func failed(ids ...string) []task.Result {
	rs := make([]task.Result, len(ids))
	for i, id := range ids {
		rs[i] = task.Result{ID: id, State: task.StateFailed, Attempts: 3, ExitCode: 1, Error: "boom"}
	}
	return rs
}

// resultIDs reads results.jsonl through a fresh queue's Results and checks
// that blanked lines are all it skips and no id has two records.
func resultIDs(t *testing.T, path string, c *clock) map[string]string {
	t.Helper()
	q := openQ(t, path, c)
	rs, _, err := q.Results(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rs {
		if _, dup := out[r.ID]; dup {
			t.Fatalf("two result records for %s", r.ID)
		}
		out[r.ID] = r.State
	}
	return out
}

func TestFileRetry(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	leader, path := newQ(t, 6, c, func(o *FileOptions) { o.Owner = "leader" })
	ids := leaseAll(t, leader, "c1", 10)
	if _, err := leader.Complete(ctx, "c1", append(failed(ids[:3]...), done(ids[3:]...)...)); err != nil {
		t.Fatal(err)
	}
	_, before, err := leader.Results(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(filepath.Join(leader.StateDir(), resultsFile))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	sizeBefore := size()

	// An admin's process retries every failed task.
	admin := openQ(t, path, c, func(o *FileOptions) { o.Owner = "admin" })
	n, err := admin.Retry(ctx, nil)
	if err != nil || n != 3 {
		t.Fatalf("Retry: %d, %v; want 3", n, err)
	}
	s := checkRetryInvariants(t, admin, path, c, 6)
	if s.Pending != 3 || s.Failed != 0 || s.Done != 3 {
		t.Fatalf("after the retry: %+v", s)
	}
	if size() != sizeBefore {
		t.Fatalf("results.jsonl changed size (%d → %d): cursors would move", sizeBefore, size())
	}
	arch, _ := filepath.Glob(filepath.Join(leader.StateDir(), retryDir, "retry-*.jsonl"))
	if len(arch) != 1 {
		t.Fatalf("retry archives: %v", arch)
	}
	if b, _ := os.ReadFile(arch[0]); bytes.Count(b, []byte("\n")) != 3 || bytes.Count(b, []byte(`"state":"failed"`)) != 3 {
		t.Fatalf("archive %s:\n%s", arch[0], b)
	}

	// The leader, handed the campaign back, leases exactly the retried
	// tasks again; a follower's cursor from before sees only new results.
	again := leaseAll(t, leader, "c1", 10)
	slices.Sort(again)
	if !slices.Equal(again, ids[:3]) {
		t.Fatalf("leased after the retry: %v, want %v", again, ids[:3])
	}
	if rep, err := leader.Complete(ctx, "c1", append(done(ids[0], ids[1]), failed(ids[2])...)); err != nil || rep.Accepted != 3 {
		t.Fatalf("complete the retried tasks: %+v, %v", rep, err)
	}
	later, _, err := leader.Results(ctx, before, 0)
	if err != nil || len(later) != 3 {
		t.Fatalf("results after the old cursor: %v, %v", later, err)
	}
	s = checkRetryInvariants(t, leader, path, c, 6)
	if s.Done != 5 || s.Failed != 1 || s.Pending != 0 {
		t.Fatalf("after the second round: %+v", s)
	}

	// Retry of named tasks only; a done or unknown id is not retried.
	if n, err := admin.Retry(ctx, []string{ids[2], ids[4], "nope"}); err != nil || n != 1 {
		t.Fatalf("Retry of named tasks: %d, %v; want 1", n, err)
	}
	if got := resultIDs(t, path, c); len(got) != 5 || got[ids[2]] != "" {
		t.Fatalf("results after retrying %s: %v", ids[2], got)
	}
	// A retry with nothing to retry changes nothing.
	if n, err := admin.Retry(ctx, []string{ids[0]}); err != nil || n != 0 {
		t.Fatalf("Retry of a done task: %d, %v", n, err)
	}
	s = checkRetryInvariants(t, leader, path, c, 6)
	if s.Pending != 1 || s.Done != 5 {
		t.Fatalf("after retrying one: %+v", s)
	}
}

func TestFileRetrySkipsFlushed(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	q, path := newQ(t, 3, c)
	ids := leaseAll(t, q, "c1", 1)
	if _, err := q.Complete(ctx, "c1", failed(ids[0])); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The failed task's line lies below the flush mark: a retry would make
	// it count as flushed, not pending, so it stays failed.
	if n, err := q.Retry(ctx, nil); err != nil || n != 0 {
		t.Fatalf("Retry after a flush: %d, %v; want 0", n, err)
	}
	if s := checkRetryInvariants(t, q, path, c, 3); s.Failed != 1 || s.Flushed != 2 {
		t.Fatalf("status: %+v", s)
	}
}

// checkRetryInvariants checks that every task is in one state, from this
// queue and from a fresh process's view, and that the results hold one
// record per final task.
func checkRetryInvariants(t *testing.T, q *FileQueue, path string, c *clock, lines int) Status {
	t.Helper()
	s, err := q.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum := s.Pending + s.Leased + s.Done + s.Failed + s.Flushed; sum != lines {
		t.Fatalf("status %+v sums to %d, the queue has %d lines", s, sum, lines)
	}
	fresh, err := openQ(t, path, c).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Pending != s.Pending || fresh.Leased != s.Leased || fresh.Done != s.Done || fresh.Failed != s.Failed || fresh.Flushed != s.Flushed {
		t.Fatalf("this queue says %+v, a fresh one %+v", s, fresh)
	}
	if got := resultIDs(t, path, c); len(got) != s.Done+s.Failed {
		t.Fatalf("%d result records, status says %d done + %d failed", len(got), s.Done, s.Failed)
	}
	return s
}

// TestFileRetryCrash stops a Retry where a crash could (after the archive,
// after the blanking, before results.gen moved) and checks that running
// Retry again from a new process finishes the job.
func TestFileRetryCrash(t *testing.T) {
	for _, step := range []string{"retry:archive-written", "retry:results-blanked"} {
		t.Run(step, func(t *testing.T) {
			ctx := context.Background()
			c := newClock()
			leader, path := newQ(t, 4, c, func(o *FileOptions) { o.Owner = "leader" })
			ids := leaseAll(t, leader, "c1", 10)
			if _, err := leader.Complete(ctx, "c1", append(failed(ids[:2]...), done(ids[2:]...)...)); err != nil {
				t.Fatal(err)
			}
			crash := errors.New("crash")
			admin := openQ(t, path, c, func(o *FileOptions) {
				o.Owner = "admin"
				o.hook = func(s string) error {
					if s == step {
						return crash
					}
					return nil
				}
			})
			if _, err := admin.Retry(ctx, nil); !errors.Is(err, crash) {
				t.Fatalf("Retry: %v, want the crash", err)
			}
			// The crashed admin holds the campaign; the leader takes it back.
			if _, err := leader.Claim(); err != nil {
				t.Fatal(err)
			}
			checkRetryInvariants(t, leader, path, c, 4)

			again := openQ(t, path, c, func(o *FileOptions) { o.Owner = "admin2" })
			if _, err := again.Retry(ctx, nil); err != nil {
				t.Fatal(err)
			}
			s := checkRetryInvariants(t, leader, path, c, 4)
			if s.Pending != 2 || s.Failed != 0 {
				t.Fatalf("after retrying again: %+v", s)
			}
			leased := leaseAll(t, leader, "c1", 10)
			slices.Sort(leased)
			if !slices.Equal(leased, ids[:2]) {
				t.Fatalf("the leader leased %v, want %v", leased, ids[:2])
			}
		})
	}
}
