package upstream

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// The index cache makes a second open cheap and never makes it wrong: a
// torn cache, or one of a rewritten file, is ignored and the file indexed
// anew.
func TestFileIndexCache(t *testing.T) {
	c := newClock()
	const n = 110
	small := func(o *FileOptions) { o.cacheLines = 100 }
	q, path := newQ(t, n, c, small)
	cache := filepath.Join(q.StateDir(), indexCacheFile)
	if _, err := os.Stat(cache); err != nil {
		t.Fatalf("no index cache after indexing %d lines: %v", n, err)
	}
	appendRaw(t, path, garbage(1)+"\n"+taskLine(n)+"\n")
	want := openQ(t, path, c, small).idx // from the cache, then the two new lines

	fresh := func() *index {
		x := newIndex("", nil)
		if err := x.refresh(path); err != nil {
			t.Fatal(err)
		}
		return x
	}
	same := func(what string, got *index, ref *index) {
		t.Helper()
		if !reflect.DeepEqual(got.lines, ref.lines) || !reflect.DeepEqual(got.byID, ref.byID) || got.end != ref.end || got.endNo != ref.endNo {
			t.Fatalf("%s: the index differs from one built from the file", what)
		}
	}
	same("from the cache", want, fresh())

	// A torn cache.
	b, _ := os.ReadFile(cache)
	os.WriteFile(cache, b[:len(b)/2], 0o600)
	same("torn cache", openQ(t, path, c, small).idx, fresh())
	b[len(b)/3] ^= 0x55
	os.WriteFile(cache, b, 0o600)
	same("corrupt cache", openQ(t, path, c, small).idx, fresh())

	// The cache of a file that was since rewritten with other lines.
	q2 := openQ(t, path, c, small)
	q2.idx.saveCache(cache)
	var w bufWriter
	for i := 0; i < n+5; i++ {
		w.line(taskLine(i + 1_000_000))
	}
	os.WriteFile(path, w.b, 0o600)
	os.Remove(filepath.Join(q.StateDir(), stateFile)) // a new campaign on it
	q3 := openQ(t, path, c, small)
	same("cache of another file", q3.idx, fresh())
	if ls, err := q3.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 1, TTL: time.Hour}); err != nil || ls[0].Spec.ID != taskID(1_000_000) {
		t.Fatalf("lease after rewriting: %v %v", specIDs(ls), err)
	}
}

// TestFileIndexCacheWrittenOnFirstIndex: the first full index of a queue of
// a few thousand lines is cached at once (the agents 'pilot local' starts
// read it instead of parsing the queue again); a queue that then grows is
// cached again only once it grew by a quarter.
func TestFileIndexCacheWrittenOnFirstIndex(t *testing.T) {
	c := newClock()
	const n = 8 * indexCacheLines // a quarter of it is more than indexCacheLines
	q, path := newQ(t, n, c)
	cache := filepath.Join(q.StateDir(), indexCacheFile)
	st, err := os.Stat(cache)
	if err != nil {
		t.Fatalf("no index cache after indexing %d lines: %v", n, err)
	}
	var w bufWriter
	for i := n; i < n+n/4-1; i++ {
		w.line(taskLine(i))
	}
	appendRaw(t, path, string(w.b))
	if _, err := openQ(t, path, c).Status(ctx); err != nil {
		t.Fatal(err)
	}
	if again, err := os.Stat(cache); err != nil || again.ModTime() != st.ModTime() || again.Size() != st.Size() {
		t.Fatalf("the cache was rewritten (or lost: %v) after the queue grew by less than a quarter", err)
	}
	appendRaw(t, path, taskLine(n+n/4)+"\n")
	if _, err := openQ(t, path, c).Status(ctx); err != nil {
		t.Fatal(err)
	}
	if again, err := os.Stat(cache); err != nil || again.Size() <= st.Size() {
		t.Fatalf("the cache was not rewritten (%v) after the queue grew by a quarter", err)
	}
}
