package scratchcache

import (
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// clock is a settable clock shared by the caches of one test (the nodes).
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestCache opens a cache on root with the test clock; edit tweaks the
// config before New.
func newTestCache(t *testing.T, root string, clk *clock, edit func(*Config)) *Cache {
	t.Helper()
	cfg := Config{Root: root, Now: clk.Now, Logger: quietLogger(), LeaseTTL: time.Minute}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func specDigest(id string) string {
	return task.Spec{ID: id, Cmd: []string{"nmr-shift", id}}.Digest()
}

func mustOpenLease(t *testing.T, c *Cache, id, digest string, attempt int) *Lease {
	t.Helper()
	s, l, err := c.Open(id, digest, attempt)
	if err != nil {
		t.Fatalf("open %s attempt %d: %v", id, attempt, err)
	}
	if s != nil {
		t.Fatalf("open %s attempt %d: unexpected hit (sealed by attempt %d)", id, attempt, s.Attempt)
	}
	return l
}

func mustHit(t *testing.T, c *Cache, id, digest string, attempt int) *Sealed {
	t.Helper()
	s, l, err := c.Open(id, digest, attempt)
	if err != nil {
		t.Fatalf("open %s: %v", id, err)
	}
	if s == nil {
		l.Release()
		t.Fatalf("open %s: a miss where a hit was expected", id)
	}
	return s
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// countingFS counts the calls the cache makes on paths.
type countingFS struct {
	OSFS
	mu    sync.Mutex
	calls map[string]int
	total atomic.Int64
}

func newCountingFS() *countingFS { return &countingFS{calls: map[string]int{}} }

func (c *countingFS) count(op string) {
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
	c.total.Add(1)
}

func (c *countingFS) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.calls
	c.calls = map[string]int{}
	c.total.Store(0)
	return got
}

func (c *countingFS) Open(name string) (*os.File, error) { c.count("open"); return c.OSFS.Open(name) }
func (c *countingFS) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	c.count("openfile")
	f, err := c.OSFS.OpenFile(name, flag, perm)
	if err == nil && flag&os.O_EXCL != 0 {
		c.count("created") // a new inode
	}
	return f, err
}
func (c *countingFS) Overwrite(name string, b []byte) error {
	c.count("overwrite")
	return c.OSFS.Overwrite(name, b)
}
func (c *countingFS) Stat(name string) (fs.FileInfo, error) {
	c.count("stat")
	return c.OSFS.Stat(name)
}
func (c *countingFS) ReadDir(name string) ([]fs.DirEntry, error) {
	c.count("readdir")
	return c.OSFS.ReadDir(name)
}
func (c *countingFS) IsEmptyDir(name string) (bool, error) {
	c.count("readdir")
	return c.OSFS.IsEmptyDir(name)
}
func (c *countingFS) Mkdir(name string, perm fs.FileMode) error {
	c.count("mkdir")
	err := c.OSFS.Mkdir(name, perm)
	if err == nil {
		c.count("created")
	}
	return err
}
func (c *countingFS) MkdirAll(name string, perm fs.FileMode) error {
	c.count("mkdirall")
	return c.OSFS.MkdirAll(name, perm)
}
func (c *countingFS) Rename(o, n string) error { c.count("rename"); return c.OSFS.Rename(o, n) }
func (c *countingFS) RenameNoReplace(o, n string) error {
	c.count("rename")
	return c.OSFS.RenameNoReplace(o, n)
}
func (c *countingFS) Link(o, n string) error   { c.count("link"); return c.OSFS.Link(o, n) }
func (c *countingFS) Remove(name string) error { c.count("remove"); return c.OSFS.Remove(name) }
func (c *countingFS) RemoveAll(name string) error {
	c.count("removeall")
	return c.OSFS.RemoveAll(name)
}
func (c *countingFS) Chtimes(name string, a, m time.Time) error {
	c.count("chtimes")
	return c.OSFS.Chtimes(name, a, m)
}

// misses is how many new tasks countMisses seals.
const misses = 20

// countMisses seals a warm-up task, then misses new ones (t0, t1, ...) with
// seal, and returns the filesystem calls those made and how many of them
// were a shard's first entry (which makes the shard's directory).
func countMisses(counter *countingFS, seal func(id string)) (calls map[string]int, newShards int) {
	seal("warm-up")
	shards := map[string]bool{specDigest("warm-up")[:2]: true}
	counter.reset()
	for i := range misses {
		id := "t" + strconv.Itoa(i)
		if d := specDigest(id); !shards[d[:2]] {
			shards[d[:2]] = true
			newShards++
		}
		seal(id)
	}
	return counter.reset(), newShards
}
