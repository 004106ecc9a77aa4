package scratchcache

import (
	"errors"
	"io/fs"
)

// Took says whether an attempt of a task took the entry of digest: its
// lease record is there (held, released or spent), or the entry's seal is
// its own. An agent takes an attempt's entry once the attempt has its
// cores, right before its process starts, so an attempt that never took
// the entry never ran. The leader asks when a node dies with first attempts
// assigned to it whose start no report recorded (the poison-task rule).
// An unreadable record or seal counts as taken: it may have run; so does
// a silent seal, which records no task or attempt.
func (c *Cache) Took(taskID, digest string, attempt int) (bool, error) {
	if err := checkDigest(digest); err != nil {
		return false, err
	}
	recs, err := c.readLeases(c.entryDir(digest))
	if err != nil {
		return false, err
	}
	for _, r := range recs {
		if r.Attempt == attempt && (r.Task == taskID || r.Task == "") {
			return true, nil
		}
	}
	s, err := c.readManifest(digest)
	switch {
	case err == nil:
		return s.silent || (s.TaskID == taskID && s.Attempt == attempt), nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case errors.Is(err, ErrCorrupt):
		return true, nil
	}
	return false, err
}
