package scratchcache

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// GCOptions say how much the cache may hold.
type GCOptions struct {
	// Quota in bytes for all entries of the site. Sealed entries are
	// evicted least recently used first until the cache fits. Zero or
	// less evicts nothing for the quota.
	Quota int64
	// IdleAge: unsealed entries no attempt has held for this long (their
	// task was given up) are removed. Zero keeps them.
	IdleAge time.Duration
}

// GCReport is what one GC did.
type GCReport struct {
	Before  int64       `json:"bytes_before"`
	After   int64       `json:"bytes_after"`
	Evicted []EntryInfo `json:"evicted"`
}

// GC evicts sealed entries, least recently used first, until the cache fits
// opt.Quota, and removes idle entries older than opt.IdleAge and the pools
// of processes that ended a day ago. It never touches an entry a live
// attempt holds (nor, for up to a second, one just sealed by a running
// process, whose directory waits beside the seal under its live lease for
// that process's next entry; see park.go). Results staged to the results store are the campaign's
// outputs and are not deleted.
func (c *Cache) GC(ctx context.Context, opt GCOptions) (GCReport, error) {
	var rep GCReport
	infos, err := c.List(ctx)
	if err != nil {
		return rep, err
	}
	for _, in := range infos {
		rep.Before += in.Bytes
	}
	rep.After = rep.Before
	now := c.cfg.Now()
	var sealed []EntryInfo
	for _, in := range infos {
		switch {
		case in.Live:
		case in.Silent:
			// Holds no bytes: evicting it would free nothing.
		case in.State == StateSealed:
			sealed = append(sealed, in)
		case opt.IdleAge > 0 && now.Sub(in.LastUsed) > opt.IdleAge:
			if err := c.evict(in); err != nil {
				return rep, err
			}
			rep.After -= in.Bytes
			rep.Evicted = append(rep.Evicted, in)
		}
	}
	sort.Slice(sealed, func(i, j int) bool { return sealed[i].LastUsed.Before(sealed[j].LastUsed) })
	for _, in := range sealed {
		if opt.Quota <= 0 || rep.After <= opt.Quota {
			break
		}
		if err := c.evict(in); err != nil {
			if errors.Is(err, ErrHeld) {
				continue
			}
			return rep, err
		}
		rep.After -= in.Bytes
		rep.Evicted = append(rep.Evicted, in)
	}
	return rep, c.sweepPools(now)
}

// poolIdle: a pool directory untouched for this long belongs to a process
// that ended (every seal and miss of a live one renames in it).
const poolIdle = 24 * time.Hour

// sweepPools removes the pool directories that processes left behind.
func (c *Cache) sweepPools(now time.Time) error {
	top := filepath.Join(c.root, poolDir)
	ents, err := c.fs.ReadDir(top)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return infraErr("list", top, err)
	}
	for _, e := range ents {
		path := filepath.Join(top, e.Name())
		if path == c.pool.dir {
			continue
		}
		st, err := c.fs.Stat(path)
		if err != nil || now.Sub(st.ModTime()) < poolIdle {
			continue
		}
		if err := c.fs.RemoveAll(path); err != nil {
			return infraErr("remove", path, err)
		}
		c.log.Info("scratch cache: removed the pool of a process that ended", "path", path, "last_used", st.ModTime())
	}
	return nil
}

// evict moves an entry (its seal and its directory, either of which may
// be missing) to trash/ with one rename each (a reader that already opened
// its files keeps them) after checking again that no live attempt holds
// it, then deletes it. The seal goes first: the entry is then a miss.
func (c *Cache) evict(in EntryInfo) error {
	dir := c.entryDir(in.Digest)
	recs, err := c.readLeases(dir)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if c.live(r) {
			return &HeldError{Digest: in.Digest, Task: r.Task, Attempt: r.Attempt, Owner: r.Owner, StaleAt: r.Renewed.Add(c.cfg.LeaseTTL)}
		}
	}
	trash := filepath.Join(c.root, trashDir)
	if err := c.fs.MkdirAll(trash, 0o755); err != nil {
		return infraErr("create", trash, err)
	}
	dst := filepath.Join(trash, in.Digest+"-"+token())
	for _, src := range []string{c.sealedPath(in.Digest), dir} {
		to := dst + strings.TrimPrefix(src, dir)
		if err := c.fs.Rename(src, to); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return infraErr("evict", src, err)
		}
		if err := c.fs.RemoveAll(to); err != nil {
			return infraErr("remove", to, err)
		}
	}
	c.log.Info("scratch cache: evicted", "digest", in.Digest, "task", in.Task, "state", in.State, "bytes", in.Bytes, "last_used", in.LastUsed)
	return nil
}
