package scratchcache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// create makes the entry dir for attempt, holding the lease. The entry is
// put together in the pool (an entry directory a seal gave back: its
// record rewritten, its parts renamed to this attempt; or new ones) and
// renamed into place whole, so an entry is never seen without its record:
// whoever finds it finds the record, and no check after it is needed. It
// returns a nil Lease when dir exists (or another attempt's rename won);
// the caller then takes the lease of that entry. Without a pool the entry
// directory is made empty here and the caller takes its lease likewise.
func (c *Cache) create(dir, taskID, digest string, attempt int) (*Lease, error) {
	// No look-up first: an entry that exists (a retry's, or one of the same
	// content running elsewhere, both rare) makes the rename below fail
	// and the parts go back to the pool; a look-up would cost every miss.
	var err error
	now := c.cfg.Now().UTC()
	l := &Lease{c: c, dir: dir, digest: digest, task: taskID, attempt: attempt, owner: c.owner + ":" + token(), acquired: now, renewed: now, created: true}
	rec := leaseRecord{Task: taskID, Attempt: attempt, Owner: l.owner, Acquired: now, Renewed: now}
	var path string
	e, pooled := c.takeEntry()
	if pooled {
		e, l.recordLen, err = c.refit(e, rec)
		path = c.path(e)
	}
	if !pooled || errors.Is(err, fs.ErrNotExist) { // none, or GC took the pool
		path, l.recordLen, err = c.assemble(rec)
		e = pooledEntry{name: filepath.Base(path)}
	}
	if errors.Is(err, errNoPool) {
		return nil, c.mkdirs(dir)
	}
	if err != nil {
		return nil, err
	}
	err = c.renameNoReplace(path, dir)
	if errors.Is(err, fs.ErrNotExist) { // the shard's first entry
		if err := c.fs.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			_ = c.fs.RemoveAll(path)
			return nil, infraErr("create", filepath.Dir(dir), err)
		}
		err = c.renameNoReplace(path, dir)
	}
	switch {
	case err == nil:
		return l, nil
	case errors.Is(err, fs.ErrExist): // another attempt made it first
		e.attempt, e.work, e.out, e.recordLen = attempt, true, true, l.recordLen
		if e.parked != "" { // its record is this attempt's now
			e.until, e.since = now.Add(c.cfg.LeaseTTL/2), time.Now()
		}
		if c.returnEntry(e) {
			c.scheduleUnpark()
			return nil, nil
		}
	}
	_ = c.fs.RemoveAll(path)
	if errors.Is(err, fs.ErrExist) {
		return nil, nil
	}
	return nil, infraErr("create", dir, err)
}

// errNoPool: this process has no pool directory to put an entry together in.
var errNoPool = errors.New("no pool directory")

// refit makes a pooled or parked entry directory the new entry of rec's
// attempt, and returns it as it is then; n is the length of the record it
// wrote. A parked one that cannot be handed on as it is (another attempt
// number, or past its time) goes through the pool.
func (c *Cache) refit(e pooledEntry, rec leaseRecord) (_ pooledEntry, n int, err error) {
	if e.parked != "" && (e.attempt != rec.Attempt || !c.cfg.Now().Before(e.until)) {
		var ok bool
		if e, ok = c.unparkOne(e); !ok {
			return e, 0, fs.ErrNotExist
		}
	}
	path := c.path(e)
	fail := func(err error) (pooledEntry, int, error) {
		_ = c.fs.RemoveAll(path)
		return e, 0, err
	}
	record := leaseFile(path, rec.Attempt)
	out := join(path, outPrefix+strconv.Itoa(rec.Attempt))
	if e.attempt != rec.Attempt {
		if err := c.fs.Rename(leaseFile(path, e.attempt), record); err != nil {
			return fail(infraErr("rename", record, err))
		}
		if e.out {
			if err := c.fs.Rename(join(path, outPrefix+strconv.Itoa(e.attempt)), out); err != nil {
				return fail(infraErr("rename", out, err))
			}
		}
	}
	if n, err = c.overwriteRecord(record, rec, e.recordLen); err != nil {
		return fail(err)
	}
	for _, d := range []struct {
		path string
		ok   bool
	}{{join(path, workName), e.work}, {out, e.out}} {
		if !d.ok {
			if err := c.makeDir(d.path); err != nil {
				return fail(err)
			}
		}
	}
	return e, n, nil
}

// assemble makes a new entry directory of rec's attempt in the pool; n is
// the length of the record it wrote.
func (c *Cache) assemble(rec leaseRecord) (path string, n int, err error) {
	path, ok := c.poolName("b-")
	if !ok {
		return "", 0, errNoPool
	}
	if _, err := c.mkdir(path); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return "", 0, err
		}
		c.poolGone() // GC took it for abandoned: make it again
		if path, ok = c.poolName("b-"); !ok {
			return "", 0, errNoPool
		}
		if _, err := c.mkdir(path); err != nil {
			return "", 0, err
		}
	}
	b, err := recordBytes(rec)
	if err == nil {
		err = c.writeNew(leaseFile(path, rec.Attempt), b, 0o644)
	}
	for _, d := range []string{workName, outPrefix + strconv.Itoa(rec.Attempt)} {
		if err == nil {
			err = c.makeDir(join(path, d))
		}
	}
	if err != nil {
		_ = c.fs.RemoveAll(path)
		return "", 0, err
	}
	return path, len(b), nil
}

// mkdirs creates an entry directory and its shard directory as needed;
// one that exists is no error.
func (c *Cache) mkdirs(dir string) error {
	err := c.fs.MkdirAll(dir, 0o755)
	if err != nil && !errors.Is(err, os.ErrExist) {
		return infraErr("create", dir, err)
	}
	return nil
}
