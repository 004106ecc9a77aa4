package scratchcache

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
)

// The pool (Root/pool/) holds empty directories and spent lease records
// that sealed entries gave back, to be renamed into new entries instead of
// creating new ones: on ext4 creating an inode costs 5-20 times a rename,
// and freeing one slows every later creation for minutes (ext4 without a
// journal skips recently freed inodes). Only what no process can still
// write to goes in: the output directory of an attempt that sealed
// (its task is gone), the work directory of an entry whose only attempt
// sealed (no older attempt can still run in it), and lease records (which
// are only ever written through a new file renamed over them).
//
// Each process keeps the names it may take in memory; it adopts what the
// pool holds when the cache is opened (left by processes that ended). A
// take is one rename, so two processes that adopted the same name never
// both get it.
type pool struct {
	dir   string
	mu    sync.Mutex
	dirs  []string // empty directories
	files []string // spent lease records (any content, any size)
}

// poolMax bounds each kind of item a process keeps: at most one per
// attempt that seals at once is ever taken back, so a few dozen cover the
// cores of a node; past it, what would be pooled stays where it is.
const poolMax = 64

// Prefixes of the names in the pool.
const (
	poolDirPrefix  = "d-"
	poolFilePrefix = "f-"
)

// adopt reads the pool directory once and takes note of what it holds.
func (p *pool) adopt(c *Cache) {
	ents, err := c.fs.ReadDir(p.dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("scratch cache: cannot list the pool; starting with an empty one", "path", p.dir, "err", err)
		}
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range ents {
		switch name := e.Name(); {
		case strings.HasPrefix(name, poolDirPrefix) && e.IsDir() && len(p.dirs) < poolMax:
			p.dirs = append(p.dirs, name)
		case strings.HasPrefix(name, poolFilePrefix) && e.Type().IsRegular() && len(p.files) < poolMax:
			p.files = append(p.files, name)
		}
	}
}

// pop takes a name off a list of the pool; ok is false when it is empty.
func (p *pool) pop(list *[]string) (name string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(*list)
	if n == 0 {
		return "", false
	}
	name = (*list)[n-1]
	*list = (*list)[:n-1]
	return name, true
}

// push notes a name put in the pool.
func (p *pool) push(list *[]string, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	*list = append(*list, name)
}

// full says whether a list of the pool takes no more.
func (p *pool) full(list *[]string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(*list) >= poolMax
}

// takeDir renames a pooled empty directory to dst, which must not exist.
// It reports false (and leaves dst alone) when the pool has none to give.
func (c *Cache) takeDir(dst string) bool {
	return c.take(&c.pool.dirs, dst)
}

// takeFile renames a pooled file to dst, which must not exist; its
// content is stale: the caller truncates it.
func (c *Cache) takeFile(dst string) bool {
	return c.take(&c.pool.files, dst)
}

func (c *Cache) take(list *[]string, dst string) bool {
	for {
		name, ok := c.pool.pop(list)
		if !ok {
			return false
		}
		err := c.renameNoReplace(filepath.Join(c.pool.dir, name), dst)
		switch {
		case err == nil:
			return true
		case errors.Is(err, fs.ErrNotExist):
			// Another process took it, or dst's parent is gone: the
			// next name, or (if dst's parent is gone) the caller's
			// own creation, will say.
			if _, serr := c.fs.Stat(filepath.Dir(dst)); serr != nil {
				c.pool.push(list, name)
				return false
			}
		default:
			c.pool.push(list, name) // dst exists: the item stays pooled
			return false
		}
	}
}

// putDir moves an empty directory into the pool; false when the pool is
// full or the rename failed (the directory then stays where it was).
func (c *Cache) putDir(path string) bool {
	return c.put(&c.pool.dirs, poolDirPrefix, path)
}

// putFile moves a spent lease record into the pool.
func (c *Cache) putFile(path string) bool {
	return c.put(&c.pool.files, poolFilePrefix, path)
}

func (c *Cache) put(list *[]string, prefix, path string) bool {
	if c.pool.full(list) {
		return false
	}
	name := prefix + token()
	if err := c.fs.Rename(path, filepath.Join(c.pool.dir, name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// path is gone, or the pool directory was removed by
			// hand: make it again for the next put.
			_ = c.fs.MkdirAll(c.pool.dir, 0o755)
		}
		return false
	}
	c.pool.push(list, name)
	return true
}

// renameNoReplace renames old to new unless new exists (then it fails with
// fs.ErrExist), with renameat2(RENAME_NOREPLACE) when the filesystem has
// it. Elsewhere (NFS) it is a plain rename, which fails as well onto a
// directory that holds anything (an entry always holds its lease records
// and work/), and replaces only an empty one, which loses nothing.
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
