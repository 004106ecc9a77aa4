package scratchcache

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/pilot-hpc/pilot/task"
)

// Open looks up the entry of a task's content digest for one attempt.
//
// When a sealed entry exists and verifies it is a hit: Open returns it and
// the task is not run. Otherwise it returns the entry's lease for attempt:
// run the task in Lease.WorkDir, keep the lease with Keep, then Seal or
// Release. A sealed entry that fails verification is quarantined (with a
// warning) and its lease returned, so the task is recomputed.
//
// Errors: ErrFenced (a newer attempt holds the entry: drop this one),
// ErrHeld with a *HeldError (a live attempt holds it: retry after its
// StaleAt), ErrInfra (the filesystem failed), ErrInvalid.
func (c *Cache) Open(taskID, digest string, attempt int) (*Sealed, *Lease, error) {
	if err := task.ValidateID(taskID); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := checkDigest(digest); err != nil {
		return nil, nil, err
	}
	if attempt < 1 {
		return nil, nil, fmt.Errorf("%w: attempt %d: attempts count from 1", ErrInvalid, attempt)
	}
	dir := c.entryDir(digest)
	s, quarantined, err := c.hitOrQuarantine(digest, taskID)
	if s != nil || err != nil {
		return s, nil, err
	}
	l, err := c.create(dir, taskID, digest, attempt)
	if err != nil {
		return nil, nil, err
	}
	if l != nil {
		// This call made the entry whole: nothing of older attempts to clear.
		l.Quarantined = quarantined
		return nil, l, nil
	}
	if l, err = c.acquire(dir, taskID, digest, attempt); err != nil {
		return nil, nil, err
	}
	l.Quarantined = quarantined
	// Another attempt may have sealed the entry between the lookup and
	// the lease (or its seal was damaged since).
	s, q, err := c.hitOrQuarantine(digest, taskID)
	if s != nil || err != nil {
		_ = l.Release()
		return s, nil, err
	}
	if q != "" {
		l.Quarantined = q
	}
	// Older attempts may have left their output directories (and a
	// crashed seal's manifest in one).
	ents, err := c.fs.ReadDir(dir)
	if err != nil {
		_ = l.Release()
		return nil, nil, infraErr("list", dir, err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), outPrefix) {
			path := filepath.Join(dir, e.Name())
			if err := c.fs.RemoveAll(path); err != nil {
				c.log.Warn("scratch cache: cannot remove what an older attempt left", "digest", digest, "path", path, "err", err)
			}
		}
	}
	for _, d := range []string{l.WorkDir(), l.OutDir()} {
		if err := c.makeDir(d); err != nil {
			_ = l.Release()
			return nil, nil, err
		}
	}
	return nil, l, nil
}

// makeDir makes sure the directory dir (whose parent exists) is there:
// one from the pool if it was not, else a new one.
func (c *Cache) makeDir(dir string) error {
	if c.takeDir(dir) {
		return nil
	}
	_, err := c.mkdir(dir)
	return err
}

// mkdir creates one directory whose parent exists; created is false when
// it was already there. A missing parent is returned as fs.ErrNotExist.
func (c *Cache) mkdir(dir string) (created bool, err error) {
	err = c.fs.Mkdir(dir, 0o755)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrExist):
		return false, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("%w: %w", infraErr("create", dir, err), fs.ErrNotExist)
	}
	return false, infraErr("create", dir, err)
}

// hitOrQuarantine returns the verified seal of digest, or nothing and
// where a damaged one was quarantined.
func (c *Cache) hitOrQuarantine(digest, taskID string) (*Sealed, string, error) {
	s, err := c.lookup(digest, true)
	switch {
	case err == nil:
		return s, "", nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, "", nil
	case !errors.Is(err, ErrCorrupt):
		return nil, "", err
	}
	q, err := c.quarantineDamaged(digest, taskID, err)
	return nil, q, err
}

// quarantineDamaged moves a seal that failed verification with cause aside
// and warns that its task will be recomputed.
func (c *Cache) quarantineDamaged(digest, taskID string, cause error) (string, error) {
	q, err := c.quarantine(digest)
	if err != nil {
		return "", fmt.Errorf("%w (and quarantining it failed: %w)", cause, err)
	}
	c.log.Warn("scratch cache: sealed entry failed verification; quarantined, the task is recomputed",
		"digest", digest, "task", taskID, "quarantine", q, "err", cause)
	return q, nil
}
