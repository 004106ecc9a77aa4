package scratchcache

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"
)

// A silent seal is the seal of an attempt that sealed no value and no
// output file: <digest>.sealed is a hard link to a marker file, one per
// process (in its pool) and shared by all its silent seals, so publishing
// it creates no inode. Every sealed task keeps its seal, so no pool could
// recycle a per-task manifest's inode; on ext4 without a journal each new
// inode scans the inodes freed lately (0.3-0.9 ms), on Lustre it is a
// metadata server round trip. The marker's whole content is markerBytes,
// which no manifest can be (a manifest has a digest and a checksum), and
// it carries nothing of the task: a silent seal records no task, attempt
// or time, and holds no bytes of its own.

// markerBytes is the whole content of a marker file (versioned: a reader
// that finds other bytes decodes them as a manifest, which fails, and the
// seal is quarantined and recomputed).
var markerBytes = []byte(`{"version":1,"silent":true}` + "\n")

// markerPrefix names markers in the pool (marker-<n>; marker-<n>.tmp while
// one is written).
const markerPrefix = "marker-"

// markerFile is this process's current marker file.
type markerFile struct {
	mu   sync.Mutex
	path string // "" until the first silent seal, or after a quarantine
}

// silentSealed is the seal of digest that a marker linked as its sealed
// file stands for: no value, no output, no file.
func (c *Cache) silentSealed(digest string) *Sealed {
	sealed := c.sealedPath(digest)
	return &Sealed{
		Manifest: Manifest{Version: manifestVersion, Digest: digest, Files: []File{}},
		Dir:      sealed,
		manifest: sealed,
		silent:   true,
	}
}

// isSilent says whether b, read from digest's seal at mpath, is a silent
// seal: the sealed file itself (never a sealed directory's manifest)
// holding exactly the marker's bytes.
func (c *Cache) isSilent(digest, mpath string, b []byte) bool {
	return bytes.Equal(b, markerBytes) && mpath == c.sealedPath(digest)
}

// currentMarker returns the path of this process's marker file, making one
// when there is none yet or when the current one is stale (the caller's
// link to it failed: full, or gone with its pool). The marker is written
// whole under a temporary name and renamed into place, so a marker a crash
// tore is never linked as a seal; it is not synced: a machine crash that
// loses its bytes after seals linked it makes those seals fail
// verification, and their tasks are recomputed.
func (c *Cache) currentMarker(stale string) (string, error) {
	m := &c.marker
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.path != "" && m.path != stale {
		return m.path, nil
	}
	c.dropMarker()
	if err := c.fs.MkdirAll(c.pool.dir, 0o755); err != nil {
		return "", infraErr("create the pool", c.pool.dir, err)
	}
	path, ok := c.poolName(markerPrefix)
	if !ok {
		return "", infraErr("create the pool", c.pool.dir, fs.ErrNotExist)
	}
	tmp := path + ".tmp"
	f, err := c.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return "", infraErr("create", tmp, err)
	}
	_, err = f.Write(markerBytes)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if h := c.cfg.hooks.beforeMarkerRename; h != nil {
			h()
		}
		err = c.fs.Rename(tmp, path)
	}
	if err != nil {
		if rerr := c.fs.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			c.log.Debug("scratch cache: cannot remove a marker that failed", "path", tmp, "err", rerr)
		}
		return "", infraErr("write the marker", tmp, err)
	}
	m.path = path
	return path, nil
}

// forgetMarker makes the next silent seal make a new marker: after a
// quarantine, in case it was this process's marker that was damaged (its
// seals would fail verification again and again).
func (c *Cache) forgetMarker() {
	m := &c.marker
	m.mu.Lock()
	defer m.mu.Unlock()
	c.dropMarker()
}

// dropMarker removes the current marker's pool name (the seals linked to
// it keep it) and forgets it; c.marker.mu is held.
func (c *Cache) dropMarker() {
	m := &c.marker
	if m.path == "" {
		return
	}
	if err := c.fs.Remove(m.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Debug("scratch cache: cannot remove a spent marker from the pool", "path", m.path, "err", err)
	}
	m.path = ""
}

// linkSilent publishes a silent seal: link(2) of the marker as the sealed
// file, which fails with EEXIST onto a seal of any form. A marker that
// holds as many links as the filesystem allows (EMLINK: 65,000 on ext4)
// or that is gone (its pool swept) is replaced by a new one, once.
func (c *Cache) linkSilent(marker, sealed string) error {
	err := c.fs.Link(marker, sealed)
	if !errors.Is(err, syscall.EMLINK) && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	next, merr := c.currentMarker(marker)
	if merr != nil {
		return fmt.Errorf("%w (linking the marker failed first: %v)", merr, err)
	}
	return c.fs.Link(next, sealed)
}
