package scratchcache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pilot-hpc/pilot/internal/jsonappend"
)

// leaseRecord is the file lease.<attempt> of an entry. It is created once
// with link(2) (which fails if the name exists, also on NFS and Lustre) and
// renewed by writing a temporary file and renaming it over the record, so
// a reader never sees half a record. No flock is used.
type leaseRecord struct {
	Task     string    `json:"task"`
	Attempt  int       `json:"attempt"`
	Owner    string    `json:"owner"` // host:pid:token of the holder
	Acquired time.Time `json:"acquired"`
	Renewed  time.Time `json:"renewed"`
	// Released: the attempt gave the entry up. The record is not live,
	// but it still fences older attempts until a newer one takes over.
	Released bool `json:"released,omitempty"`
}

func leaseFile(dir string, attempt int) string {
	n := strconv.Itoa(attempt)
	if len(n) < 10 {
		n = "0000000000"[len(n):] + n
	}
	return join(dir, leasePrefix+n)
}

// readLeases reads every lease record of an entry, sorted by attempt. A
// record that vanished between the listing and the read is skipped; one
// that does not parse is returned as stale so it can be taken over.
func (c *Cache) readLeases(dir string) ([]leaseRecord, error) {
	recs, _, err := c.readEntry(dir)
	return recs, err
}

// readEntry is readLeases that also returns the names the entry holds.
func (c *Cache) readEntry(dir string) ([]leaseRecord, []string, error) {
	ents, err := c.fs.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil
		}
		return nil, nil, infraErr("list", dir, err)
	}
	var recs []leaseRecord
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
		num, ok := strings.CutPrefix(e.Name(), leasePrefix)
		if !ok {
			continue // the entry's other files, a renewal's temporary file
		}
		attempt, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		path := filepath.Join(dir, e.Name())
		rec, err := c.readLease(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			c.log.Warn("scratch cache: unreadable lease record, treating it as stale", "path", path, "err", err)
			rec = leaseRecord{Attempt: attempt}
		}
		rec.Attempt = attempt
		recs = append(recs, rec)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Attempt < recs[j].Attempt })
	return recs, names, nil
}

func (c *Cache) readLease(path string) (leaseRecord, error) {
	var rec leaseRecord
	b, err := c.readSmall(path)
	if err != nil {
		return rec, err
	}
	return rec, json.Unmarshal(b, &rec)
}

func (c *Cache) live(rec leaseRecord) bool {
	return !rec.Released && c.cfg.Now().Before(rec.Renewed.Add(c.cfg.LeaseTTL))
}

// writeLeaseTemp writes rec to a new temporary file in the lease directory.
func (c *Cache) writeLeaseTemp(dir string, rec leaseRecord) (tmp string, n int, err error) {
	tmp = filepath.Join(dir, leaseTmp+token())
	n, err = c.writeRecord(tmp, rec)
	return tmp, n, err
}

// writeRecord writes rec to path, which no one else knows yet: a spent
// record from the pool renamed there and overwritten, or a new file.
func (c *Cache) writeRecord(path string, rec leaseRecord) (int, error) {
	if c.takeFile(path) {
		return c.overwriteRecord(path, rec, 0)
	}
	b, err := recordBytes(rec)
	if err != nil {
		return 0, err
	}
	return len(b), c.writeNew(path, b, 0o644)
}

// recordBytes encodes rec as json.Marshal does, by hand: reflection was a
// tenth of a short task's cache work.
func recordBytes(rec leaseRecord) ([]byte, error) {
	b := make([]byte, 0, 192)
	b = append(b, `{"task":`...)
	b = jsonappend.String(b, rec.Task)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(rec.Attempt), 10)
	b = append(b, `,"owner":`...)
	b = jsonappend.String(b, rec.Owner)
	var err error
	for _, t := range []struct {
		key string
		t   time.Time
	}{{`,"acquired":`, rec.Acquired}, {`,"renewed":`, rec.Renewed}} {
		b = append(b, t.key...)
		if b, err = jsonappend.Time(b, t.t); err != nil {
			return nil, err
		}
	}
	if rec.Released {
		b = append(b, `,"released":true`...)
	}
	return append(b, '}'), nil
}

// overwriteRecord writes rec over the spent record at path, which no one
// else knows: in place, padded with spaces (JSON allows them) to the old
// record's length. Truncating to zero and writing again makes ext4 flush
// the file at close (auto_da_alloc), which cost more than all the rest of
// a miss. oldLen is the old record's length when the caller knows it (a
// record of its own); 0 makes it look. It returns the length written.
func (c *Cache) overwriteRecord(path string, rec leaseRecord, oldLen int) (int, error) {
	b, err := recordBytes(rec)
	if err != nil {
		return 0, err
	}
	if oldLen == 0 {
		fi, err := c.fs.Stat(path)
		if err != nil {
			return 0, infraErr("open", path, err)
		}
		oldLen = int(fi.Size())
	}
	if oldLen > len(b) {
		b = append(b, bytes.Repeat([]byte{' '}, oldLen-len(b))...)
	}
	if err := c.overwrite(path, b); err != nil {
		_ = c.fs.Remove(path)
		return 0, infraErr("write", path, err)
	}
	return len(b), nil
}

// overwrite writes b at the start of the existing file path: with
// three system calls where the FS can (OSFS), else through OpenFile.
func (c *Cache) overwrite(path string, b []byte) error {
	if o, ok := c.fs.(overwriter); ok {
		return o.Overwrite(path, b)
	}
	f, err := c.fs.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// overwriter is an FS that can write over the start of a file without an
// *os.File (OSFS: os.NewFile checks the descriptor's flags and Stat sizes
// it, two system calls more than the open, the write and the close).
type overwriter interface {
	Overwrite(name string, b []byte) error
}

// writeNew creates the file path with b in it.
func (c *Cache) writeNew(path string, b []byte, perm os.FileMode) error {
	f, err := c.fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return infraErr("create", path, err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = c.fs.Remove(path)
		return infraErr("write", path, err)
	}
	return nil
}

// Lease is one attempt's hold on an unsealed entry. Its methods are safe
// for concurrent use (Keep runs beside the task while the agent waits).
type Lease struct {
	c        *Cache
	dir      string
	digest   string
	task     string
	attempt  int
	owner    string
	acquired time.Time
	renewed  time.Time // by this process's clock: the last record it wrote
	// recordLen is the length of the last record it wrote, so that a
	// record written over it in place needs no look at its size.
	recordLen int

	// Quarantined is set when Open found a sealed entry that failed
	// verification and moved it there; the agent logs it as a warning
	// with the recomputation.
	Quarantined string

	// created: this attempt made the entry, so no other attempt ever ran
	// in its work directory before it.
	created bool

	mu         sync.Mutex
	done       bool // released or sealed
	sealing    bool // a Seal is building
	sealFailed bool // a Seal failed; its outputs may be gone

	staged bool // the Seal building has checked the fence (only it uses this)
}

// acquire takes the lease of dir (an entry that exists) for attempt. A
// record of a newer attempt fences it; a live record of another attempt
// holds it (ErrHeld); stale records of older attempts are taken over
// (moved to the pool). The record is linked complete under its name, and
// the check after it sees a newer attempt that linked its own meanwhile.
func (c *Cache) acquire(dir, taskID, digest string, attempt int) (*Lease, error) {
	recs, err := c.readLeases(dir)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		switch {
		case r.Attempt > attempt:
			return nil, fmt.Errorf("%w: entry %s: attempt %d of task %s is newer than attempt %d", ErrFenced, digest, r.Attempt, r.Task, attempt)
		case c.live(r):
			return nil, &HeldError{Digest: digest, Task: r.Task, Attempt: r.Attempt, Owner: r.Owner, StaleAt: r.Renewed.Add(c.cfg.LeaseTTL)}
		default:
			path := leaseFile(dir, r.Attempt)
			if err := c.discardRecord(path); err != nil {
				return nil, infraErr("take over stale lease", path, err)
			}
			c.log.Info("scratch cache: took over a stale lease", "digest", digest, "task", taskID,
				"attempt", attempt, "stale_attempt", r.Attempt, "stale_owner", r.Owner, "renewed", r.Renewed)
		}
	}
	now := c.cfg.Now().UTC()
	l := &Lease{c: c, dir: dir, digest: digest, task: taskID, attempt: attempt, owner: c.owner + ":" + token(), acquired: now, renewed: now}
	rec := leaseRecord{Task: taskID, Attempt: attempt, Owner: l.owner, Acquired: now, Renewed: now}
	tmp, n, err := c.writeLeaseTemp(dir, rec)
	if err != nil {
		return nil, err
	}
	l.recordLen = n
	path := leaseFile(dir, attempt)
	err = c.fs.Link(tmp, path)
	_ = c.fs.Remove(tmp)
	if errors.Is(err, fs.ErrExist) {
		held, rerr := c.readLease(path)
		if rerr != nil {
			held = leaseRecord{Task: "?", Owner: "?", Renewed: now}
		}
		return nil, &HeldError{Digest: digest, Task: held.Task, Attempt: attempt, Owner: held.Owner, StaleAt: held.Renewed.Add(c.cfg.LeaseTTL)}
	}
	if err != nil {
		return nil, infraErr("create lease", path, err)
	}
	// A newer attempt may have linked its record while this one did.
	if err := l.check(); err != nil {
		_ = c.discardRecord(path)
		return nil, err
	}
	return l, nil
}

// discardRecord moves a lease record to the pool, or removes it when the
// pool takes no more; a record already gone is no error.
func (c *Cache) discardRecord(path string) error {
	if c.putFile(path) {
		return nil
	}
	if err := c.fs.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// check fails with ErrFenced unless this attempt still owns the entry: its
// record is there, is its own, and no newer attempt has one.
func (l *Lease) check() error {
	_, err := l.checkList()
	return err
}

// checkList is check that also returns the names the entry holds.
func (l *Lease) checkList() ([]string, error) {
	recs, names, err := l.c.readEntry(l.dir)
	if err != nil {
		return nil, err
	}
	own := false
	for _, r := range recs {
		if r.Attempt > l.attempt {
			return nil, fmt.Errorf("%w: entry %s: attempt %d of task %s took over from attempt %d", ErrFenced, l.digest, r.Attempt, r.Task, l.attempt)
		}
		if r.Attempt == l.attempt && r.Owner == l.owner {
			own = true
		}
	}
	if !own {
		return nil, fmt.Errorf("%w: entry %s: the lease of attempt %d was taken over after it went stale", ErrFenced, l.digest, l.attempt)
	}
	return names, nil
}

// publishCheck is checkList where it can fail, and the attempt's own names
// where it cannot: in an entry this attempt created (renamed into place
// whole, its record inside) no other attempt can have written a record or
// an output unless it took the lease over, and no attempt takes over a
// lease renewed less than a LeaseTTL ago. Half a TTL is the margin for the
// clocks of other nodes. This spares the short task's seal a listing and
// a record read.
func (l *Lease) publishCheck() ([]string, error) {
	if l.created && l.c.cfg.Now().Before(l.renewed.Add(l.c.cfg.LeaseTTL/2)) {
		return []string{filepath.Base(leaseFile(l.dir, l.attempt)), workName, filepath.Base(l.OutDir())}, nil
	}
	return l.checkList()
}

// FreshWorkDir says that WorkDir is empty and no attempt ever ran in it:
// this attempt created the entry.
func (l *Lease) FreshWorkDir() bool { return l.created }

// WorkDir is the entry's work directory, kept across attempts: the task
// reads and writes its checkpoints there ($PILOT_WORKDIR).
func (l *Lease) WorkDir() string { return join(l.dir, workName) }

// OutDir is where the task writes its output files ($PILOT_OUTDIR); Seal
// takes them from there. Each attempt has its own, so a fenced attempt that
// still runs cannot slip files into a newer attempt's seal.
func (l *Lease) OutDir() string { return join(l.dir, outPrefix+strconv.Itoa(l.attempt)) }

// Env is the environment a task of this lease runs with, to add to its own:
// PILOT_WORKDIR and PILOT_OUTDIR.
func (l *Lease) Env() []string {
	return []string{"PILOT_WORKDIR=" + l.WorkDir(), "PILOT_OUTDIR=" + l.OutDir()}
}

// Attempt is the attempt number the lease was taken for.
func (l *Lease) Attempt() int { return l.attempt }

// Renew records that the attempt is alive. It fails with ErrFenced when a
// newer attempt took over; the agent must then stop the task.
func (l *Lease) Renew() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return fmt.Errorf("%w: %w: entry %s, attempt %d", ErrFenced, errLeaseDone, l.digest, l.attempt)
	}
	if err := l.check(); err != nil {
		return err
	}
	rec := leaseRecord{Task: l.task, Attempt: l.attempt, Owner: l.owner, Acquired: l.acquired, Renewed: l.c.cfg.Now().UTC()}
	tmp, n, err := l.c.writeLeaseTemp(l.dir, rec)
	if err != nil {
		return err
	}
	path := leaseFile(l.dir, l.attempt)
	if err := l.c.fs.Rename(tmp, path); err != nil {
		_ = l.c.fs.Remove(tmp)
		return infraErr("renew lease", path, err)
	}
	l.renewed, l.recordLen = rec.Renewed, n
	return nil
}

// errLeaseDone: the lease was sealed or released by its own attempt.
var errLeaseDone = errors.New("the lease was already released or sealed")

// Keep renews the lease every LeaseTTL/3 until ctx ends or the attempt
// sealed or released it (it then returns nil), or the lease is lost: fenced
// by a newer attempt (ErrFenced), or not renewed for a whole LeaseTTL
// because the filesystem failed. Run it in a goroutine beside the task and
// Seal; stop the task when it returns an error.
func (l *Lease) Keep(ctx context.Context) error { return l.keep(ctx, true) }

// KeepLazily is Keep beside the task on a goroutine that starts only when
// the first renewal is due (LeaseTTL/3 after the lease was taken), so a
// short task costs a timer, not a goroutine and its wake-up. lost gets
// Keep's error, if any; stop ends it (call it before Seal or Release).
func (l *Lease) KeepLazily(ctx context.Context, lost func(error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	t := time.AfterFunc(l.c.cfg.LeaseTTL/3, func() {
		if err := l.keep(ctx, false); err != nil {
			lost(err)
		}
	})
	return func() {
		t.Stop()
		cancel()
	}
}

// keep is Keep; wait: wait LeaseTTL/3 before the first renewal too.
func (l *Lease) keep(ctx context.Context, wait bool) error {
	ttl := l.c.cfg.LeaseTTL
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	l.mu.Lock()
	lastOK := l.renewed
	l.mu.Unlock()
	for ; ; wait = true {
		if wait {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		} else if ctx.Err() != nil {
			return nil
		}
		err := l.Renew()
		switch {
		case err == nil:
			lastOK = l.c.cfg.Now()
		case errors.Is(err, errLeaseDone):
			return nil
		case errors.Is(err, ErrFenced):
			return err
		default:
			l.c.log.Warn("scratch cache: lease renewal failed", "digest", l.digest, "task", l.task, "attempt", l.attempt, "err", err)
			if l.c.cfg.Now().Sub(lastOK) >= ttl {
				return fmt.Errorf("lease of entry %s not renewed for %s: %w", l.digest, ttl, err)
			}
		}
	}
}

// Release gives the lease up without sealing (the task failed or the pilot
// drains). The work directory stays for the next attempt, which may start
// at once; the attempt's output directory goes. The record stays, marked
// released, so that an older attempt still cannot come back. Releasing
// twice, or after Seal, does nothing. Call it once the task's processes
// are gone.
func (l *Lease) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return nil
	}
	l.done = true
	c := l.c
	if empty, err := c.isEmptyDir(l.OutDir()); err != nil || !empty || !c.putDir(l.OutDir()) {
		if err := c.fs.RemoveAll(l.OutDir()); err != nil {
			c.log.Warn("scratch cache: cannot remove a released attempt's outputs; the next attempt will", "digest", l.digest, "path", l.OutDir(), "err", err)
		}
	}
	path := leaseFile(l.dir, l.attempt)
	rec, err := c.readLease(path)
	if err != nil || rec.Owner != l.owner {
		return nil // gone, or taken over: nothing of ours to release
	}
	// Marked in place: a reader that catches it half written takes it
	// for stale, as it does a released one, and its name still fences
	// older attempts. No new file: a full disk is a common reason to
	// release.
	rec.Released = true
	if _, err := c.overwriteRecord(path, rec, l.recordLen); err != nil {
		c.log.Warn("scratch cache: cannot mark a lease released; it was removed", "digest", l.digest, "attempt", l.attempt, "err", err)
	}
	return nil
}

// recycleRecord moves this attempt's record, if it is still its own, into
// the pool once the entry is sealed (hits need no lease): removing it
// would free an inode, and on ext4 every inode freed makes each new one
// slower to allocate for minutes; at hundreds of short tasks a second that
// was the largest cost of the whole agent.
func (l *Lease) recycleRecord() error {
	path := leaseFile(l.dir, l.attempt)
	rec, err := l.c.readLease(path)
	if err != nil || rec.Owner != l.owner {
		return nil // gone, or taken over: nothing of ours to recycle
	}
	if err := l.c.discardRecord(path); err != nil {
		return infraErr("recycle lease", path, err)
	}
	return nil
}
