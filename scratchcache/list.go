package scratchcache

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Entry states as List reports them.
const (
	StateSealed  = "sealed"  // a sealed output (may also hold a stray lease)
	StateRunning = "running" // unsealed, a live attempt holds it
	StateIdle    = "idle"    // unsealed and unheld: kept for a retry
)

// EntryInfo describes one entry for `pilot cache ls` and eviction.
type EntryInfo struct {
	Digest   string    `json:"digest"`
	State    string    `json:"state"`
	Task     string    `json:"task,omitempty"`
	Attempt  int       `json:"attempt,omitempty"`
	Bytes    int64     `json:"bytes"`            // on the scratch filesystem, all of the entry
	LastUsed time.Time `json:"last_used"`        // sealed: last hit or seal; else the newest lease renewal or the directory's time
	Live     bool      `json:"live"`             // a live attempt holds a lease
	Silent   bool      `json:"silent,omitempty"` // a silent seal: no bytes, no task recorded (LastUsed is its marker's time)
	Dir      string    `json:"dir"`              // the entry's directory, or its seal when no attempt holds it
}

// List walks every entry (three levels of directories, then each entry).
// It is an administrator's tool: it costs a directory walk, unlike a hit.
func (c *Cache) List(ctx context.Context) ([]EntryInfo, error) {
	var out []EntryInfo
	err := c.eachEntry(ctx, func(dir, digest string) error {
		info, err := c.entryInfo(dir, digest)
		if err != nil {
			return err
		}
		out = append(out, info)
		return nil
	})
	return out, err
}

// eachEntry calls fn for every entry, in order: every digest with an
// entries/ab/<digest> directory, a seal beside it, or both.
func (c *Cache) eachEntry(ctx context.Context, fn func(dir, digest string) error) error {
	top := filepath.Join(c.root, entriesDir)
	level := func(dir string) ([]fs.DirEntry, error) {
		ents, err := c.fs.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, infraErr("list", dir, err)
		}
		return ents, nil
	}
	a, err := level(top)
	if err != nil {
		return err
	}
	for _, ea := range a {
		shard := filepath.Join(top, ea.Name())
		ents, err := level(shard)
		if err != nil {
			return err
		}
		var digests []string // sorted: a seal's name follows its directory's
		for _, e := range ents {
			d := strings.TrimSuffix(e.Name(), sealedSuffix)
			if checkDigest(d) != nil || (d == e.Name() && !e.IsDir()) {
				continue
			}
			if n := len(digests); n == 0 || digests[n-1] != d {
				digests = append(digests, d)
			}
		}
		for _, d := range digests {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(filepath.Join(shard, d), d); err != nil {
				return err
			}
		}
	}
	return nil
}

// entryInfo describes one entry. A sealed entry costs a few calls (its
// lease directory, a stat or two and a read of its manifest, whose file
// list gives its size); only unsealed entries, whose work/ is the task's
// own, are walked.
func (c *Cache) entryInfo(dir, digest string) (EntryInfo, error) {
	info := EntryInfo{Digest: digest, Dir: dir, State: StateIdle}
	recs, err := c.readLeases(dir)
	if err != nil {
		return info, err
	}
	for _, r := range recs {
		if c.live(r) {
			info.Live = true
		}
		info.Task, info.Attempt = r.Task, r.Attempt
		if r.Renewed.After(info.LastUsed) {
			info.LastUsed = r.Renewed
		}
	}
	if info.Live {
		info.State = StateRunning
	}
	sealed := c.sealedPath(digest)
	mpath := filepath.Join(sealed, manifestName)
	st, err := c.fs.Stat(mpath)
	if errors.Is(err, syscall.ENOTDIR) {
		mpath = sealed // the manifest alone
		st, err = c.fs.Stat(mpath)
	}
	if err == nil {
		s, err := c.readManifestAt(digest, mpath)
		if err == nil {
			info.State, info.LastUsed = StateSealed, st.ModTime()
			if s.silent {
				// The marker's bytes are its own, shared by every silent
				// seal; the task is whichever lease the entry still holds.
				info.Silent = true
			} else {
				info.Task, info.Attempt = s.TaskID, s.Attempt
				info.Bytes = st.Size() + s.LocalBytes()
			}
			if !info.Live {
				info.Dir = sealed
			}
			return info, nil
		}
		// A damaged manifest: count what is really there.
		info.State, info.LastUsed = StateSealed, st.ModTime()
	} else if info.LastUsed.IsZero() {
		if st, err := c.fs.Stat(dir); err == nil {
			info.LastUsed = st.ModTime()
		}
	}
	size, err := c.du(dir)
	if err != nil {
		return info, err
	}
	info.Bytes = size
	return info, nil
}

// du sums the sizes of the regular files under dir.
func (c *Cache) du(dir string) (int64, error) {
	ents, err := c.fs.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, infraErr("list", dir, err)
	}
	var n int64
	for _, e := range ents {
		if e.IsDir() {
			sub, err := c.du(filepath.Join(dir, e.Name()))
			if err != nil {
				return 0, err
			}
			n += sub
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n, nil
}
