package upstream

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// 100,000 pending tasks (1,000 of them leased) flush in one step: nothing
// pending or leased right after, all of them in the archive.
func TestFileFlush100k(t *testing.T) {
	const n = 100_000
	c := newClock()
	t0 := time.Now()
	q, path := newQ(t, n, c)
	opened := time.Since(t0)
	leased, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 1000, TTL: time.Hour})
	if err != nil || len(leased) != 1000 {
		t.Fatalf("lease: %d, %v", len(leased), err)
	}
	q.Complete(ctx, "a", done(specIDs(leased[:10])...))

	t0 = time.Now()
	rep, err := q.Flush(ctx)
	took := time.Since(t0)
	if err != nil || rep.Pending != n-1000 || rep.Leased != 990 {
		t.Fatalf("flush: %+v %v", rep, err)
	}
	t.Logf("open (index %d lines): %v; flush of %d tasks: %v", n, opened, n-10, took)
	s := checkInvariants(t, q, n)
	if s.Pending != 0 || s.Leased != 0 || s.Flushed != n-10 || s.Done != 10 {
		t.Fatalf("status after flush: %+v", s)
	}
	b, err := os.ReadFile(rep.Archive)
	if err != nil || bytes.Count(b, []byte{'\n'}) != n-10 {
		t.Fatalf("archive has %d lines, %v", bytes.Count(b, []byte{'\n'}), err)
	}
	// A new writer agrees.
	q2 := openQ(t, path, c)
	if s2 := checkInvariants(t, q2, n); fmt.Sprint(s2) != fmt.Sprint(s) {
		t.Fatalf("status seen by a new writer %+v, want %+v", s2, s)
	}
	if ls, _ := q2.Lease(ctx, LeaseRequest{Cluster: "b", MaxTasks: 10, TTL: time.Hour}); len(ls) != 0 {
		t.Fatalf("leased %v after a flush", specIDs(ls))
	}
}

// The backlog stays on disk: indexing 10,000 task lines of 10 kB (100 MB;
// 2,000 under the race detector) costs a small fraction of that in memory.
func TestFileBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100 MB")
	}
	n, size := 10_000, 10_000
	if raceEnabled {
		n = 2_000
	}
	path := filepath.Join(t.TempDir(), "tasks.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", size-60)
	for i := 0; i < n; i++ {
		fmt.Fprintf(f, `{"id":"t-%06d","cmd":["true"],"input":"%s"}`+"\n", i, pad)
	}
	f.Close()

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	q := openQ(t, path, newClock())
	ls, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 100, TTL: time.Hour})
	if err != nil || len(ls) != 100 {
		t.Fatalf("lease: %d %v", len(ls), err)
	}
	ls = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap held for %d lines of %d bytes: %.1f MB", n, size, float64(held)/1e6)
	if held > int64(n*size/10) {
		t.Fatalf("the open queue holds %d MB of heap for a %d MB backlog", held>>20, n*size>>20)
	}
	runtime.KeepAlive(q)
}
