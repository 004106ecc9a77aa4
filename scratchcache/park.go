package scratchcache

import (
	"path/filepath"
	"time"
)

// A sealed entry's directory that the pool takes whole is parked first:
// it stays where it is, beside its seal, for the next new entry of this
// process to take with one rename (entries/ab/<old> to entries/cd/<new>)
// instead of two (into the pool, and out of it). A rename was a quarter
// of a short task's cache work. A parked entry is handed on only while no
// other attempt can take its lease over (until half a LeaseTTL after its
// record was written, as publishCheck; no attempt takes over a lease
// renewed less than a LeaseTTL ago), and only to an attempt of the same
// number, so that its record keeps its name; any other goes through the
// pool. One not taken within parkFor is moved into the pool, and Close
// moves them all. Until it is taken, a hit finds the seal beside it and
// never looks in; an attempt that finds the directory (the seal was
// damaged and quarantined meanwhile) finds its live lease and waits.

// parkFor is how long a parked entry waits for a new entry at most:
// short beside the LeaseTTL (a tenth), long beside the time an agent
// takes to start its next task.
func (c *Cache) parkFor() time.Duration { return min(time.Second, c.cfg.LeaseTTL/10) }

// park keeps the entry directory dir of a sealed entry as e, for the next
// new entry; renewed is when its record was last written. False when the
// pool takes no more: dir stays as it is.
func (c *Cache) park(dir string, e pooledEntry, renewed time.Time) bool {
	e.name, e.parked = "", dir
	e.until = renewed.Add(c.cfg.LeaseTTL / 2)
	e.since = time.Now()
	if !c.returnEntry(e) {
		return false
	}
	c.scheduleUnpark()
	return true
}

// scheduleUnpark makes sure that a timer will move idle parked entries into
// the pool.
func (c *Cache) scheduleUnpark() {
	p := &c.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unpark == nil {
		p.unpark = time.AfterFunc(c.parkFor(), func() { c.unparkIdle(c.parkFor()) })
	}
}

// unparkIdle moves the entries parked for idle or longer into the pool,
// and schedules itself again while others stay parked.
func (c *Cache) unparkIdle(idle time.Duration) {
	p := &c.pool
	p.mu.Lock()
	p.unpark = nil
	var idles []pooledEntry
	kept := p.entries[:0]
	for _, e := range p.entries {
		if e.parked != "" && time.Since(e.since) >= idle {
			idles = append(idles, e)
		} else {
			kept = append(kept, e)
		}
	}
	p.entries = kept
	more := hasParked(kept)
	p.mu.Unlock()
	for _, e := range idles {
		if e, ok := c.unparkOne(e); ok {
			c.returnEntry(e) // full meanwhile: it stays, unknown, until GC
		}
	}
	if more {
		c.scheduleUnpark()
	}
}

func hasParked(entries []pooledEntry) bool {
	for _, e := range entries {
		if e.parked != "" {
			return true
		}
	}
	return false
}

// unparkOne moves the parked entry e (taken off the pool's list) into the
// pool directory; ok is false when it could not: an entry past its time
// stays where it is, as another attempt may have its lease by now (a
// leftover beside its seal, as a crash leaves).
func (c *Cache) unparkOne(e pooledEntry) (pooledEntry, bool) {
	if !c.cfg.Now().Before(e.until) {
		c.log.Debug("scratch cache: a parked entry outlived its lease's margin; left beside its seal", "path", e.parked)
		return e, false
	}
	path, ok := c.poolName("b-")
	if !ok || c.movePooled(e.parked, path) != nil {
		return e, false
	}
	e.name, e.parked = filepath.Base(path), ""
	return e, true
}

// Close moves the entries parked for a next entry into the pool. The
// cache stays usable (a later seal parks again, and Close moves it too);
// call it when the process stops taking tasks, so that none is left beside
// its seal.
func (c *Cache) Close() {
	p := &c.pool
	p.mu.Lock()
	if p.unpark != nil {
		p.unpark.Stop()
		p.unpark = nil
	}
	p.mu.Unlock()
	c.unparkIdle(0)
}
