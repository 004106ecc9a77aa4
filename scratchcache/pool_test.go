package scratchcache

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The cost the agent pays per short task that seals a value: once the
// pool holds an entry, a miss then seal of a task that writes no file
// creates one inode (the manifest, which is the seal), makes no directory
// and removes nothing but the manifest's second name. (One that seals no
// value either creates none: TestSilentMissCreatesNoInode.)
func TestValueMissCreatesOneInodeFreesNone(t *testing.T) {
	counter := newCountingFS()
	c := newTestCache(t, t.TempDir(), newClock(), func(cfg *Config) { cfg.FS = counter })
	seal := func(id string) {
		t.Helper()
		l := mustOpenLease(t, c, id, specDigest(id), 1)
		if _, err := l.Seal(context.Background(), []byte(`{"ok":true}`)); err != nil {
			t.Fatal(err)
		}
	}
	calls, newShards := countMisses(counter, seal)
	t.Logf("%d misses (%d in new shards): %v", misses, newShards, calls)
	if calls["created"] != misses || calls["mkdir"] != 0 || calls["mkdirall"] != newShards || calls["removeall"] != 0 {
		t.Fatalf("%d misses made %v; want %d inodes created (the manifests), no mkdir but %d shards, no removeall", misses, calls, misses, newShards)
	}
	// The one remove per miss is the manifest's second name in OutDir
	// (its inode lives on as the seal).
	if calls["remove"] != misses {
		t.Fatalf("%d misses removed %d names, want %d", misses, calls["remove"], misses)
	}
	for i := range misses {
		id := "t" + strconv.Itoa(i)
		if hit := mustHit(t, c, id, specDigest(id), 2); string(hit.Value) != `{"ok":true}` || hit.TaskID != id {
			t.Fatalf("hit of %s: %+v", id, hit.Manifest)
		}
	}
}

// An entry directory from the pool comes back as new: empty work/ and
// OutDir, only the new attempt's record, renumbered to its attempt; and
// the entry it came from is still a hit.
func TestPooledEntryComesBackClean(t *testing.T) {
	counter := newCountingFS()
	c := newTestCache(t, t.TempDir(), newClock(), func(cfg *Config) { cfg.FS = counter })
	a := specDigest("a")
	la := mustOpenLease(t, c, "a", a, 3)
	if _, err := la.Seal(context.Background(), []byte(`"a"`)); err != nil {
		t.Fatal(err)
	}
	c.Close() // the entry is parked beside its seal until then
	if _, err := os.Stat(c.entryDir(a)); !os.IsNotExist(err) {
		t.Fatalf("the entry directory of a sealed entry was not given back: %v", err)
	}
	counter.reset()
	b := specDigest("b")
	lb := mustOpenLease(t, c, "b", b, 1)
	if calls := counter.reset(); calls["mkdir"] != 0 || calls["created"] != 0 {
		t.Fatalf("the miss did not reuse the pooled entry: %v", calls)
	}
	for _, d := range []string{lb.WorkDir(), lb.OutDir()} {
		if ents, err := os.ReadDir(d); err != nil || len(ents) != 0 {
			t.Fatalf("%s of a reused entry: %v %v, want it there and empty", d, ents, err)
		}
	}
	ents, err := os.ReadDir(c.entryDir(b))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"lease.0000000001", "out.1", "work"}; len(names) != 3 || names[0] != want[0] || names[1] != want[1] || names[2] != want[2] {
		t.Fatalf("reused entry holds %v, want %v", names, want)
	}
	recs, err := c.readLeases(c.entryDir(b))
	if err != nil || len(recs) != 1 || recs[0].Task != "b" || recs[0].Attempt != 1 || !c.live(recs[0]) {
		t.Fatalf("records of the reused entry: %+v %v", recs, err)
	}
	writeFile(t, filepath.Join(lb.OutDir(), "b.out"), []byte("from b"))
	if _, err := lb.Seal(context.Background(), []byte(`"b"`)); err != nil {
		t.Fatal(err)
	}
	if hit := mustHit(t, c, "b", b, 2); len(hit.Files) != 1 {
		t.Fatalf("hit of b: %+v", hit.Manifest)
	} else if got, err := os.ReadFile(hit.Path("b.out")); err != nil || string(got) != "from b" {
		t.Fatalf("b's output: %q %v", got, err)
	}
	if hit := mustHit(t, c, "a", a, 4); string(hit.Value) != `"a"` || len(hit.Files) != 0 {
		t.Fatalf("hit of a: %+v", hit.Manifest)
	}
}

// An entry an older attempt ran in is never reused: an attempt fenced but
// still running may write to its work/. The entry directory stays after
// the newer attempt's seal; only that attempt's record goes.
func TestEntryOfTwoAttemptsIsNotReused(t *testing.T) {
	clk := newClock()
	c := newTestCache(t, t.TempDir(), clk, nil)
	d := specDigest("twice")
	l1 := mustOpenLease(t, c, "twice", d, 1)
	clk.Advance(2 * time.Minute)
	l2 := mustOpenLease(t, c, "twice", d, 2)
	if _, err := l2.Seal(context.Background(), []byte(`2`)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l1.WorkDir()); err != nil {
		t.Fatalf("the work/ attempt 1 may still run in: %v", err)
	}
	if recs, err := c.readLeases(c.entryDir(d)); err != nil || len(recs) != 0 {
		t.Fatalf("records after the seal: %+v %v", recs, err)
	}
	// The next miss makes a new entry: nothing of this one is in the pool.
	e := specDigest("next")
	l3 := mustOpenLease(t, c, "next", e, 1)
	if l3.WorkDir() == l1.WorkDir() {
		t.Fatal("same directory")
	}
	writeFile(t, filepath.Join(l1.WorkDir(), "late"), []byte("attempt 1 still runs"))
	if ents, err := os.ReadDir(l3.WorkDir()); err != nil || len(ents) != 0 {
		t.Fatalf("the new entry's work/ holds %v (%v)", ents, err)
	}
	l3.Release()
}

// A damaged seal that turns up between the lookup and the publish (a
// sealed directory someone emptied) is quarantined then, and the attempt's
// seal published in its place.
func TestDamagedSealInTheWayIsQuarantinedAtPublish(t *testing.T) {
	c := newTestCache(t, t.TempDir(), newClock(), nil)
	d := specDigest("in-the-way")
	l := mustOpenLease(t, c, "in-the-way", d, 1)
	writeFile(t, filepath.Join(c.sealedPath(d), "stray"), []byte("no manifest"))
	s, err := l.Seal(context.Background(), []byte(`"mine"`))
	if err != nil || s.Attempt != 1 {
		t.Fatalf("seal: %+v %v", s, err)
	}
	q, err := filepath.Glob(filepath.Join(c.root, quarantineDir, d+"-*", "stray"))
	if err != nil || len(q) != 1 {
		t.Fatalf("quarantined: %v %v", q, err)
	}
	if hit := mustHit(t, c, "in-the-way", d, 2); string(hit.Value) != `"mine"` {
		t.Fatalf("hit %s", hit.Value)
	}
}

// GC removes the pool a process left behind a day ago, not a live one.
func TestGCRemovesAbandonedPools(t *testing.T) {
	clk := newClock()
	root := t.TempDir()
	c := newTestCache(t, root, clk, nil)
	l := mustOpenLease(t, c, "p", specDigest("p"), 1)
	if _, err := l.Seal(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(root, poolDir, "gone-1-abc")
	writeFile(t, filepath.Join(old, "f-1"), []byte("{}"))
	if err := os.Chtimes(old, clk.Now().Add(-25*time.Hour), clk.Now().Add(-25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	recent := filepath.Join(root, poolDir, "idle-2-def")
	writeFile(t, filepath.Join(recent, "f-1"), []byte("{}"))
	if err := os.Chtimes(recent, clk.Now().Add(-time.Hour), clk.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(c.pool.dir, clk.Now().Add(-48*time.Hour), clk.Now().Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GC(context.Background(), GCOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("the abandoned pool is still there: %v", err)
	}
	for _, p := range []string{recent, c.pool.dir} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("a pool in use was removed: %v", err)
		}
	}
}

// A process whose pool GC took (it sat idle for a day) makes a new one
// and goes on: misses and seals work as before.
func TestPoolTakenByGCIsMadeAgain(t *testing.T) {
	clk := newClock()
	c := newTestCache(t, t.TempDir(), clk, nil)
	seal := func(id string) {
		t.Helper()
		l := mustOpenLease(t, c, id, specDigest(id), 1)
		if _, err := l.Seal(context.Background(), []byte(`1`)); err != nil {
			t.Fatal(err)
		}
	}
	seal("before")
	c.Close() // into the pool: the entry is parked until then
	if err := os.RemoveAll(c.pool.dir); err != nil {
		t.Fatal(err)
	}
	seal("after") // takes the pooled entry that is gone
	seal("again") // takes the one "after" gave back
	c.Close()
	if ents, err := os.ReadDir(c.pool.dir); err != nil || len(ents) != 1 {
		t.Fatalf("the new pool holds %v (%v), want one entry", ents, err)
	}
	for _, id := range []string{"before", "after", "again"} {
		mustHit(t, c, id, specDigest(id), 2)
	}
}
