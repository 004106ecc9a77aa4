package scratchcache

import (
	"errors"
	"io/fs"
	"path/filepath"
)

// create makes a new entry dir for attempt, holding the lease: the lease
// record, work/ and out.<attempt>/ are put together in a directory of its
// own beside the entry (from the pool, most of them) and renamed into
// place whole. An entry is thus never seen without its record, so no
// other attempt can slip in between, and no check after it is needed:
// whoever finds the entry finds the record. It returns a nil Lease when
// dir exists already (or another attempt's rename won); the caller then
// takes the lease of that entry.
func (c *Cache) create(dir, taskID, digest string, attempt int) (*Lease, error) {
	_, err := c.fs.Stat(dir)
	switch {
	case err == nil:
		return nil, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, infraErr("look up", dir, err)
	}
	tmp := filepath.Join(filepath.Dir(dir), newPrefix+token())
	if err := c.makeNew(tmp); err != nil {
		return nil, err
	}
	now := c.cfg.Now().UTC()
	l := &Lease{c: c, dir: dir, digest: digest, task: taskID, attempt: attempt, owner: c.owner + ":" + token(), acquired: now, created: true}
	rec := leaseRecord{Task: taskID, Attempt: attempt, Owner: l.owner, Acquired: now, Renewed: now}
	record := leaseFile(tmp, attempt)
	work := filepath.Join(tmp, workName)
	out := filepath.Join(tmp, filepath.Base(l.OutDir()))
	if err := c.writeRecord(record, rec); err != nil {
		c.scrap(tmp)
		return nil, err
	}
	for _, d := range []string{work, out} {
		if err := c.makeDir(d); err != nil {
			c.scrap(tmp, record, work, out)
			return nil, err
		}
	}
	err = c.renameNoReplace(tmp, dir)
	if err == nil {
		return l, nil
	}
	c.scrap(tmp, record, work, out)
	if errors.Is(err, fs.ErrExist) {
		return nil, nil // another attempt made it first
	}
	return nil, infraErr("create", dir, err)
}

// makeNew makes the directory a new entry is put together in, and the
// entry's shard directory if it is the shard's first.
func (c *Cache) makeNew(tmp string) error {
	if c.takeDir(tmp) {
		return nil
	}
	_, err := c.mkdir(tmp)
	if errors.Is(err, fs.ErrNotExist) {
		shard := filepath.Dir(tmp)
		if err := c.fs.MkdirAll(shard, 0o755); err != nil {
			return infraErr("create", shard, err)
		}
		_, err = c.mkdir(tmp)
	}
	return err
}

// scrap gives back what create made in tmp and tmp itself: to the pool
// (the record and empty directories), or removed. It only runs when the
// rename lost a race or the filesystem failed, never on the way of a task.
func (c *Cache) scrap(tmp string, parts ...string) {
	empty := true
	for _, p := range parts {
		fi, err := c.fs.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err == nil && fi.Mode().IsRegular() && c.putFile(p):
			continue
		case err == nil && fi.IsDir() && c.putDir(p):
			continue
		}
		if err := c.fs.RemoveAll(p); err != nil {
			empty = false
		}
	}
	if empty && c.putDir(tmp) {
		return
	}
	if err := c.fs.RemoveAll(tmp); err != nil {
		c.log.Warn("scratch cache: cannot remove a new entry that was not used", "path", tmp, "err", err)
	}
}
