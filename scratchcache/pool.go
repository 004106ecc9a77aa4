package scratchcache

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// The pool holds what sealed entries gave back, to be renamed into new
// entries instead of creating new inodes: on ext4 creating one costs more
// than a rename, and freeing one slows every later creation for minutes
// (ext4 without a journal skips recently freed inodes). Most of all it
// holds whole entry directories, so a miss takes its entry with one rename
// (most never come here: a sealed entry's directory is parked first, and
// the next miss takes it from there, see park.go). Only what no process can still write to
// goes in: the entry directory of an entry whose only attempt sealed (no
// other attempt ever ran in its work/; its task is gone) with its empty
// work/, its empty out.<attempt>/ when the manifest alone is the seal, and
// its lease record (records are only ever written through a new file
// renamed over them); empty output directories and spent records of other
// entries. Each process has a pool directory of its own, known only to
// it, so what it holds needs no claiming; one a process left behind when
// it ended is removed by GC a day later.
type pool struct {
	dir     string // Root/pool/<host>-<pid>-<token>
	mu      sync.Mutex
	made    bool // dir exists
	n       int  // names given out
	entries []pooledEntry
	dirs    []string    // empty directories
	files   []string    // spent lease records (any content)
	unpark  *time.Timer // moves idle parked entries into the pool
}

// pooledEntry is an entry directory in the pool, or parked (see park.go):
// lease.<attempt>, and work/ and out.<attempt>/ (both empty) where says so.
type pooledEntry struct {
	name      string // in the pool directory
	parked    string // or the sealed entry's directory where it is parked
	until     time.Time
	since     time.Time // parked: it may be handed on until, by the cache's clock; parked since
	attempt   int
	work      bool
	out       bool
	recordLen int // the length of its record, 0 if unknown
}

// path is where the entry directory e lies.
func (c *Cache) path(e pooledEntry) string {
	if e.parked != "" {
		return e.parked
	}
	return join(c.pool.dir, e.name)
}

// poolMax bounds each kind of part a process keeps: one is given back per
// attempt that seals and one taken per attempt that starts, so the pool
// holds at most about as many as the node runs tasks at once (its cores);
// past it, what would be pooled is removed or stays where it is.
const poolMax = 256

// poolName returns a new name in the pool directory, making the directory
// at the first call; ok is false if it cannot be made.
func (c *Cache) poolName(prefix string) (path string, ok bool) {
	p := &c.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.made {
		if err := c.fs.MkdirAll(p.dir, 0o755); err != nil {
			c.log.Debug("scratch cache: no pool", "path", p.dir, "err", err)
			return "", false
		}
		p.made = true
	}
	p.n++
	return join(p.dir, prefix+strconv.Itoa(p.n)), true
}

// movePooled renames src into the pool as dst, a new name (no look at dst
// first, as os.Rename makes). If the pool directory is gone (GC took it
// for abandoned), the next name makes it again.
func (c *Cache) movePooled(src, dst string) error {
	err := c.renameNoReplace(src, dst)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := c.fs.Stat(c.pool.dir); serr != nil {
			c.poolGone()
		}
	}
	return err
}

// poolGone forgets the pool directory, which is gone, and what it held:
// the next name makes it again.
func (c *Cache) poolGone() {
	p := &c.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	p.made = false
	parked := p.entries[:0]
	for _, e := range p.entries {
		if e.parked != "" {
			parked = append(parked, e)
		}
	}
	p.entries, p.dirs, p.files = parked, nil, nil
}

func popLast[T any](mu *sync.Mutex, list *[]T) (item T, ok bool) {
	mu.Lock()
	defer mu.Unlock()
	n := len(*list)
	if n == 0 {
		return item, false
	}
	item = (*list)[n-1]
	*list = (*list)[:n-1]
	return item, true
}

func pushIfRoom[T any](mu *sync.Mutex, list *[]T, item T) bool {
	mu.Lock()
	defer mu.Unlock()
	if len(*list) >= poolMax {
		return false
	}
	*list = append(*list, item)
	return true
}

func hasRoom[T any](mu *sync.Mutex, list *[]T) bool {
	mu.Lock()
	defer mu.Unlock()
	return len(*list) < poolMax
}

// takeEntry takes an entry directory out of the pool (it stays in the
// pool directory until the caller renames it away).
func (c *Cache) takeEntry() (pooledEntry, bool) {
	return popLast(&c.pool.mu, &c.pool.entries)
}

// returnEntry notes an entry directory that is (still) in the pool.
func (c *Cache) returnEntry(e pooledEntry) bool {
	return pushIfRoom(&c.pool.mu, &c.pool.entries, e)
}

// takeDir renames a pooled empty directory to dst, which must not exist;
// false when the pool has none (or dst exists: the directory stays).
func (c *Cache) takeDir(dst string) bool { return c.take(&c.pool.dirs, dst) }

// takeFile renames a pooled lease record to dst, which must not exist;
// its content is stale, for the caller to overwrite.
func (c *Cache) takeFile(dst string) bool { return c.take(&c.pool.files, dst) }

func (c *Cache) take(list *[]string, dst string) bool {
	name, ok := popLast(&c.pool.mu, list)
	if !ok {
		return false
	}
	err := c.renameNoReplace(join(c.pool.dir, name), dst)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		pushIfRoom(&c.pool.mu, list, name) // dst exists: the part stays pooled
	}
	return err == nil
}

// putDir moves an empty directory into the pool; false when the pool is
// full or the rename failed (the directory then stays where it was).
func (c *Cache) putDir(path string) bool { return c.put(&c.pool.dirs, "d-", path) }

// putFile moves a spent lease record into the pool.
func (c *Cache) putFile(path string) bool { return c.put(&c.pool.files, "f-", path) }

func (c *Cache) put(list *[]string, prefix, path string) bool {
	if !hasRoom(&c.pool.mu, list) {
		return false
	}
	dst, ok := c.poolName(prefix)
	if !ok || c.movePooled(path, dst) != nil {
		return false
	}
	return pushIfRoom(&c.pool.mu, list, filepath.Base(dst))
}

// renameNoReplace renames old to new unless new exists (then it fails with
// fs.ErrExist), with renameat2(RENAME_NOREPLACE) when the filesystem has
// it. Elsewhere (NFS) it is a plain rename, which fails as well onto a
// directory that holds anything (an entry always holds its lease records
// and work/, a seal its manifest), and replaces only an empty one, which
// loses nothing.
func (c *Cache) renameNoReplace(oldpath, newpath string) error {
	if r, ok := c.fs.(noReplaceRenamer); ok {
		return r.RenameNoReplace(oldpath, newpath)
	}
	return c.fs.Rename(oldpath, newpath)
}

// noReplaceRenamer is an FS that can rename without replacing (OSFS).
type noReplaceRenamer interface {
	RenameNoReplace(oldpath, newpath string) error
}
