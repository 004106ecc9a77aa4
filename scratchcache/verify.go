package scratchcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/pilot-hpc/pilot/scratchcache/stage"
	"github.com/pilot-hpc/pilot/task"
)

// VerifyOptions choose what Verify checks and does.
type VerifyOptions struct {
	// Quarantine moves damaged entries to quarantine/ so their tasks are
	// recomputed.
	Quarantine bool
	// Staged also downloads every object the entries staged to the
	// results store and checks its size and sha256 (network traffic: the
	// whole of every staged output).
	Staged bool
}

// Problem is one sealed entry that failed Verify.
type Problem struct {
	Digest     string `json:"digest"`
	Error      string `json:"error"`
	Quarantine string `json:"quarantine,omitempty"`
}

// Verify re-hashes every sealed entry's manifest and local files (and with
// opt.Staged its staged objects). It returns the problems found and how
// many sealed entries it checked. A store that cannot be reached, or that
// is not the one the objects were staged to, is an error, never a problem:
// an outage must not quarantine the cache.
func (c *Cache) Verify(ctx context.Context, opt VerifyOptions) ([]Problem, int, error) {
	var problems []Problem
	checked := 0
	err := c.eachEntry(ctx, func(dir, digest string) error {
		s, err := c.lookup(digest, false)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		checked++
		if err == nil && opt.Staged {
			err = c.verifyStaged(ctx, s)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrCorrupt) {
			return err
		}
		p := Problem{Digest: digest, Error: err.Error()}
		if opt.Quarantine {
			q, qerr := c.quarantine(digest)
			if qerr != nil {
				return fmt.Errorf("%w (and quarantining it failed: %w)", err, qerr)
			}
			p.Quarantine = q
		}
		problems = append(problems, p)
		return nil
	})
	return problems, checked, err
}

// verifyStaged downloads each staged object of s (the files, and the
// result's output when it is a value or an index) and checks it.
func (c *Cache) verifyStaged(ctx context.Context, s *Sealed) error {
	objects := map[string]task.Output{}
	for _, f := range s.Files {
		if f.URI != "" {
			objects[f.URI] = task.Output{URI: f.URI, Bytes: f.Bytes, SHA256: f.SHA256}
		}
	}
	if s.Output != nil {
		objects[s.Output.URI] = *s.Output
	}
	for _, out := range objects {
		err := c.store.Fetch(ctx, out, io.Discard)
		switch {
		case err == nil:
		case errors.Is(err, stage.ErrChecksum), errors.Is(err, stage.ErrNotFound):
			return fmt.Errorf("%w: staged output: %w", ErrCorrupt, err)
		default:
			return infraErr("fetch from "+c.store.URI(), out.URI, err)
		}
	}
	return nil
}
