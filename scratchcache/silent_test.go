package scratchcache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func sealSilent(t *testing.T, c *Cache, id string) *Sealed {
	t.Helper()
	s, err := mustOpenLease(t, c, id, specDigest(id), 1).Seal(context.Background(), nil)
	if err != nil {
		t.Fatalf("silent seal of %s: %v", id, err)
	}
	if !s.Silent() || s.Attempt != 1 || s.TaskID != id || s.Value != nil || s.Output != nil {
		t.Fatalf("silent seal of %s returned %+v (silent %v)", id, s.Manifest, s.Silent())
	}
	return s
}

// mustHitSilent opens id as attempt 2 and wants a hit on a silent seal.
func mustHitSilent(t *testing.T, c *Cache, id string) {
	t.Helper()
	s := mustHit(t, c, id, specDigest(id), 2)
	if !s.Silent() || s.Value != nil || s.Output != nil || len(s.Files) != 0 || s.Digest != specDigest(id) {
		t.Fatalf("hit of %s: %+v (silent %v), want a silent seal", id, s.Manifest, s.Silent())
	}
}

// sameFile says whether two paths name one inode.
func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	sa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(sa, sb)
}

// The cost the agent pays per `true` task: once the pool holds an entry
// and the process its marker, a miss then silent seal creates no inode,
// makes no directory and removes nothing; every seal is a link to the
// one marker, and each is a hit without a value.
func TestSilentMissCreatesNoInode(t *testing.T) {
	counter := newCountingFS()
	c := newTestCache(t, t.TempDir(), newClock(), func(cfg *Config) { cfg.FS = counter })
	calls, newShards := countMisses(counter, func(id string) { sealSilent(t, c, id) })
	t.Logf("%d silent misses (%d in new shards): %v", misses, newShards, calls)
	if calls["created"] != 0 || calls["mkdir"] != 0 || calls["remove"] != 0 || calls["removeall"] != 0 || calls["mkdirall"] != newShards {
		t.Fatalf("%d silent misses made %v; want no inode created, nothing removed, %d shards made", misses, calls, newShards)
	}
	marker := c.marker.path
	for i := range misses {
		id := "t" + strconv.Itoa(i)
		if !sameFile(t, c.sealedPath(specDigest(id)), marker) {
			t.Fatalf("the seal of %s is not the marker %s", id, marker)
		}
		counter.reset()
		mustHitSilent(t, c, id)
		if calls := counter.reset(); calls["chtimes"] != 0 || calls["open"] != 1 {
			t.Fatalf("a silent hit made %v; want one open and no chtimes (its inode is shared)", calls)
		}
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != string(markerBytes) {
		t.Fatalf("marker %s holds %q (%v)", marker, b, err)
	}
}

// Another process seals silently and ends; its pool is swept by GC a day
// later. This process's Open is a hit with no value all along: the seal
// is the marker's inode, whose pool name was only one of its links.
func TestSilentSealOfAnotherProcessOutlivesItsPool(t *testing.T) {
	root := t.TempDir()
	d := specDigest("quiet")
	other := startChild(t, "silent", "SC_ROOT="+root, "SC_DIGEST="+d)
	other.expect(t, "sealed")
	if err := <-other.exited; err != nil {
		t.Fatalf("the sealing process failed: %v", err)
	}
	other.exited <- nil

	clk := &clock{now: time.Now()}
	c := newTestCache(t, root, clk, nil)
	mustHitSilent(t, c, "quiet")
	pools, err := filepath.Glob(filepath.Join(root, poolDir, "*"))
	if err != nil || len(pools) != 1 {
		t.Fatalf("pools %v (%v), want the other process's", pools, err)
	}
	markers, _ := filepath.Glob(filepath.Join(pools[0], markerPrefix+"*"))
	if len(markers) != 1 || !sameFile(t, markers[0], c.sealedPath(d)) {
		t.Fatalf("the other process's pool holds markers %v, want one, the seal's", markers)
	}
	if took, err := c.Took("quiet", d, 1); err != nil || !took {
		t.Fatalf("Took on a silent seal: %v %v, want true (it records no attempt)", took, err)
	}

	clk.Advance(25 * time.Hour)
	if _, err := c.GC(context.Background(), GCOptions{Quota: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pools[0]); !os.IsNotExist(err) {
		t.Fatalf("the ended process's pool was not swept: %v", err)
	}
	mustHitSilent(t, c, "quiet")
	if problems, checked, err := c.Verify(context.Background(), VerifyOptions{Quarantine: true}); err != nil || checked != 1 || len(problems) != 0 {
		t.Fatalf("verify: %+v, %d checked, %v", problems, checked, err)
	}
}

// publishHookFS runs before once, right before the first link or rename
// onto the sealed name path, as if another attempt got there in between.
type publishHookFS struct {
	OSFS
	path   string
	before func()
	once   sync.Once
}

func (f *publishHookFS) hook(newpath string) {
	if newpath == f.path && f.before != nil {
		f.once.Do(f.before)
	}
}

func (f *publishHookFS) Link(o, n string) error { f.hook(n); return f.OSFS.Link(o, n) }
func (f *publishHookFS) RenameNoReplace(o, n string) error {
	f.hook(n)
	return f.OSFS.RenameNoReplace(o, n)
}

// Two attempts of one entry seal in different forms: attempt 1 is slow
// and attempt 2 takes its stale lease over and seals first. Whatever the
// forms, exactly one seal lands: attempt 1 gets ErrFenced when attempt 2
// sealed before its fence check, and attempt 2's entry when attempt 2
// sealed between that check and its own link or rename.
func TestSilentAndManifestSealsRace(t *testing.T) {
	type form struct {
		name  string
		value []byte
		file  bool
	}
	silent := form{"silent", nil, false}
	manifest := form{"manifest", []byte(`"v"`), false}
	dir := form{"dir", nil, true}
	for _, tc := range []struct {
		loser, winner form
	}{
		{silent, manifest}, {manifest, silent}, {silent, dir}, {dir, silent}, {silent, silent},
	} {
		for _, late := range []bool{false, true} {
			name := "attempt 2 " + tc.winner.name + " seals before attempt 1 " + tc.loser.name
			if late {
				name += " links"
			} else {
				name += " checks"
			}
			t.Run(name, func(t *testing.T) {
				root := t.TempDir()
				clk := newClock()
				d := specDigest("race")
				hookFS := &publishHookFS{path: filepath.Join(root, entriesDir, d[:2], d) + sealedSuffix}
				c1 := newTestCache(t, root, clk, func(cfg *Config) {
					cfg.FS = hookFS
				})
				c2 := newTestCache(t, root, clk, nil)
				seal := func(l *Lease, f form) (*Sealed, error) {
					if f.file {
						writeFile(t, filepath.Join(l.OutDir(), "out"), []byte("x"))
					}
					return l.Seal(context.Background(), f.value)
				}
				l1 := mustOpenLease(t, c1, "race", d, 1)
				won := false
				winner := func() {
					won = true
					clk.Advance(2 * time.Minute)
					l2 := mustOpenLease(t, c2, "race", d, 2)
					if s, err := seal(l2, tc.winner); err != nil || s.Attempt != 2 {
						t.Errorf("the winner's seal: %+v %v", s, err)
					}
				}
				if late {
					hookFS.before = winner
				} else {
					c1.cfg.hooks.beforePublish = winner
				}
				s, err := seal(l1, tc.loser)
				switch {
				case !late && !errors.Is(err, ErrFenced):
					t.Fatalf("attempt 1 sealed after attempt 2: %+v %v, want ErrFenced", s, err)
				case late && err != nil:
					t.Fatalf("attempt 1, beaten between its check and its link: %v, want attempt 2's entry", err)
				case !won || late && s.Attempt == 1:
					t.Fatalf("attempt 1 sealed alone (attempt 2 ran: %v)", won)
				case late && (s.Silent() != (tc.winner.name == "silent") || !s.Silent() && s.Attempt != 2):
					t.Fatalf("attempt 1 got %+v (silent %v), want attempt 2's %s seal", s.Manifest, s.Silent(), tc.winner.name)
				}
				hit := mustHit(t, newTestCache(t, root, clk, nil), "race", d, 3)
				if hit.Silent() != (tc.winner.name == "silent") || !hit.Silent() && hit.Attempt != 2 {
					t.Fatalf("the hit is %+v (silent %v), want attempt 2's %s seal", hit.Manifest, hit.Silent(), tc.winner.name)
				}
				if tc.winner.name == "manifest" && string(hit.Value) != `"v"` {
					t.Fatalf("the hit's value %s", hit.Value)
				}
			})
		}
	}
}

// A marker whose bytes were altered, torn by a machine crash or lost
// fails verification for every silent seal linked to it: each is
// quarantined at its next Open and its task recomputed. The process then
// links new silent seals to a new marker, not to the damaged one.
func TestDamagedMarkerQuarantinedAndRecomputed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
	}{
		{"altered", `{"version":2,"silent":true}` + "\n"},
		{"torn", string(markerBytes[:10])},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCache(t, t.TempDir(), newClock(), nil)
			sealSilent(t, c, "a")
			sealSilent(t, c, "b")
			damaged := c.marker.path
			if err := os.Chmod(damaged, 0o644); err != nil {
				t.Fatal(err)
			}
			writeFile(t, damaged, []byte(tc.content))
			for _, id := range []string{"a", "b"} {
				l := mustOpenLease(t, c, id, specDigest(id), 2)
				if l.Quarantined == "" {
					t.Fatalf("the damaged silent seal of %s was not quarantined", id)
				}
				if _, err := l.Seal(context.Background(), nil); err != nil {
					t.Fatal(err)
				}
				if c.marker.path == damaged || !sameFile(t, c.sealedPath(specDigest(id)), c.marker.path) {
					t.Fatalf("the new seal of %s does not link a new marker", id)
				}
				mustHitSilent(t, c, id)
			}
		})
	}
}

// Verify checks silent seals like the others and quarantines those whose
// marker was damaged.
func TestVerifyQuarantinesSilentSealsOfADamagedMarker(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, t.TempDir(), newClock(), nil)
	sealSilent(t, c, "a")
	sealSilent(t, c, "b")
	if problems, checked, err := c.Verify(ctx, VerifyOptions{}); err != nil || checked != 2 || len(problems) != 0 {
		t.Fatalf("verify: %+v, %d checked, %v", problems, checked, err)
	}
	if err := os.Chmod(c.marker.path, 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, c.marker.path, []byte("x"))
	problems, checked, err := c.Verify(ctx, VerifyOptions{Quarantine: true})
	if err != nil || checked != 2 || len(problems) != 2 || problems[0].Quarantine == "" {
		t.Fatalf("verify: %+v, %d checked, %v", problems, checked, err)
	}
	for _, id := range []string{"a", "b"} {
		if err := mustOpenLease(t, c, id, specDigest(id), 2).Release(); err != nil {
			t.Fatal(err)
		}
	}
}

// emlinkFS refuses links to a marker past limit (as ext4 does past
// 65,000), counting the links made to each.
type emlinkFS struct {
	OSFS
	limit int
	mu    sync.Mutex
	links map[string]int
}

func (f *emlinkFS) Link(o, n string) error {
	if strings.HasPrefix(filepath.Base(o), markerPrefix) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.links[o] >= f.limit {
			return &os.LinkError{Op: "link", Old: o, New: n, Err: syscall.EMLINK}
		}
		f.links[o]++
	}
	return f.OSFS.Link(o, n)
}

// A marker with all the links the filesystem allows is replaced by a new
// one (its pool name dropped), and the seal retried once: the seals of
// every marker stay hits. A new marker refused too fails the seal as an
// infrastructure failure that leaves no seal.
func TestMarkerRollsOverOnEMLINK(t *testing.T) {
	root := t.TempDir()
	fsys := &emlinkFS{limit: 3, links: map[string]int{}}
	c := newTestCache(t, root, newClock(), func(cfg *Config) { cfg.FS = fsys })
	const n = 7
	for i := range n {
		sealSilent(t, c, "t"+strconv.Itoa(i))
	}
	if len(fsys.links) != 3 {
		t.Fatalf("%d seals linked %d markers %v, want 3 (3+3+1)", n, len(fsys.links), fsys.links)
	}
	inPool, _ := filepath.Glob(filepath.Join(c.pool.dir, markerPrefix+"*"))
	if len(inPool) != 1 || inPool[0] != c.marker.path {
		t.Fatalf("the pool holds markers %v, want only the current one %s", inPool, c.marker.path)
	}
	for i := range n {
		mustHitSilent(t, c, "t"+strconv.Itoa(i))
	}

	fsys.limit = 0
	l := mustOpenLease(t, c, "refused", specDigest("refused"), 1)
	if _, err := l.Seal(context.Background(), nil); !errors.Is(err, ErrInfra) || !strings.Contains(err.Error(), "too many links") {
		t.Fatalf("a seal refused by two markers: %v, want ErrInfra naming the link failure", err)
	}
	if _, err := os.Lstat(c.sealedPath(specDigest("refused"))); !os.IsNotExist(err) {
		t.Fatalf("a failed silent seal left a seal: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

// List reports silent seals as sealed entries of no bytes, and GC never
// evicts one to fit a quota (it would free nothing) while it evicts the
// others.
func TestListAndGCOverSilentSeals(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, t.TempDir(), newClock(), nil)
	for _, id := range []string{"q1", "q2", "q3"} {
		sealSilent(t, c, id)
	}
	for _, id := range []string{"v", "f"} {
		l := mustOpenLease(t, c, id, specDigest(id), 1)
		if id == "f" {
			writeFile(t, filepath.Join(l.OutDir(), "out"), []byte("kept"))
		}
		if _, err := l.Seal(ctx, []byte(`1`)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close() // parked entries hold live leases until then
	infos, err := c.List(ctx)
	if err != nil || len(infos) != 5 {
		t.Fatalf("list: %+v %v", infos, err)
	}
	silent := 0
	for _, in := range infos {
		if in.State != StateSealed {
			t.Fatalf("entry %+v is not sealed", in)
		}
		if in.Silent {
			silent++
			if in.Bytes != 0 || in.Dir != c.sealedPath(in.Digest) {
				t.Fatalf("silent entry %+v: want 0 bytes, its seal as Dir", in)
			}
		} else if in.Bytes == 0 || in.Task == "" {
			t.Fatalf("entry %+v: want its bytes and task", in)
		}
	}
	if silent != 3 {
		t.Fatalf("list reports %d silent seals, want 3: %+v", silent, infos)
	}
	rep, err := c.GC(ctx, GCOptions{Quota: 1, IdleAge: time.Nanosecond})
	if err != nil || len(rep.Evicted) != 2 || rep.After != 0 {
		t.Fatalf("gc: %+v %v, want the 2 entries with bytes evicted", rep, err)
	}
	for _, id := range []string{"q1", "q2", "q3"} {
		mustHitSilent(t, c, id)
	}
}

// A process killed while it writes its marker (after the write, before
// the rename that names it) published nothing: the entry is not sealed,
// the torn marker is linked nowhere, and the next attempt seals silently
// with a marker of its own.
func TestMarkerTornByACrashIsNeverLinked(t *testing.T) {
	root := t.TempDir()
	d := specDigest("quiet")
	crash := startChild(t, "silent", "SC_ROOT="+root, "SC_DIGEST="+d, "SC_CRASH=1")
	crash.expect(t, "marker written")
	crash.kill9(t)

	tmps, err := filepath.Glob(filepath.Join(root, poolDir, "*", markerPrefix+"*"))
	if err != nil || len(tmps) != 1 || !strings.HasSuffix(tmps[0], ".tmp") {
		t.Fatalf("the crashed process's markers: %v (%v), want one under its temporary name", tmps, err)
	}
	if st, err := os.Stat(tmps[0]); err != nil || st.Sys().(*syscall.Stat_t).Nlink != 1 {
		t.Fatalf("the torn marker is linked elsewhere: %v", err)
	}
	clk := &clock{now: time.Now().Add(3 * time.Minute)}
	c := newTestCache(t, root, clk, nil)
	if _, err := os.Lstat(c.sealedPath(d)); !os.IsNotExist(err) {
		t.Fatalf("the crashed attempt left a seal: %v", err)
	}
	l := mustOpenLease(t, c, "quiet", d, 2)
	if _, err := l.Seal(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if sameFile(t, c.sealedPath(d), tmps[0]) {
		t.Fatal("the new seal links the torn marker")
	}
	mustHitSilent(t, c, "quiet")
}
