package upstream

import (
	"container/heap"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FileQueue is the file kind of upstream: a JSONL file of tasks on a shared
// filesystem, which users and 'pilot submit' only ever append to, and a state
// directory beside it (default FILE.pilot/):
//
//	state.json     read cursor, leases, flush mark (replaced atomically)
//	results.jsonl  exactly one task.Result per final task (appended, fsynced)
//	lock.json      the epoch that may write the state (replaced atomically)
//	claims/EPOCH   one file per epoch ever claimed (created with O_EXCL)
//	flushed/*.jsonl  the tasks each Flush archived
//	index.cache    the index of the queue's lines, so opening does not
//	               parse the whole queue again (a cache: rebuilt if bad)
//
// In memory it keeps an index of the queue's lines (offset, id, checksum,
// cores), never their content, and the ids that have results; everything
// else is reread from the file when a task is leased.
//
// Reading (Status, Results) needs no claim. The first call that writes the
// state (Lease, Renew, Complete, Release, Flush) claims a new epoch; every
// later one checks the lock record when it starts and again right before it
// replaces the state, and fails with ErrFenced once a newer epoch holds it.
// The check and the write are not one atomic step (no filesystem offers
// that without locks): a deposed writer can slip in one write at most,
// which can only hand a task out again or record a first result, never
// lose one. Submit only appends to the queue file, as a user
// may by hand, and needs no claim.
type FileQueue struct {
	path  string
	dir   string
	now   func() time.Time
	log   *slog.Logger
	hook  func(step string) error
	owner string

	mu      sync.Mutex
	closed  bool
	idx     *index
	res     *resultsLog
	st      fileState
	epoch   uint64 // 0 until this queue claims the campaign
	cur     int    // lines[:cur] have been read (the cursor as a position)
	pending posHeap
	// dirty: a reread of the state failed (the queue file was rewritten),
	// so memory may not match the disk; the next call rereads first.
	dirty bool
}

// FileOptions configures OpenFile. Zero values take the defaults named on
// each field.
type FileOptions struct {
	// StateDir holds the campaign's state. Default: the queue path + ".pilot".
	StateDir string
	// Create makes an empty queue file if there is none. Without it, a
	// missing queue file is an error (a typo must not start a new campaign).
	Create bool
	// Owner names this writer in the lock record, and a Flush from another
	// process hands the campaign back to it by this name: give each open
	// queue its own. Default: host:pid:random.
	Owner string
	// Now is the clock of lease expiry. Default time.Now.
	Now func() time.Time
	// Logger receives warnings about the files. Default slog.Default().
	Logger *slog.Logger

	// hook runs (in tests only) at each named step between two writes of
	// one operation; an error it returns stops the operation there, as a
	// crash would.
	hook func(step string) error
	// cacheLines (tests only) replaces indexCacheLines.
	cacheLines int
}

// OpenFile opens the queue file at path and the campaign state beside it,
// and indexes the lines already in the file. It claims nothing: reading is
// always allowed, and the first write claims the campaign.
func OpenFile(path string, opts FileOptions) (*FileQueue, error) {
	if opts.StateDir == "" {
		opts.StateDir = path + ".pilot"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Owner == "" {
		host, _ := os.Hostname()
		var r [4]byte
		rand.Read(r[:])
		opts.Owner = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(r[:]))
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && opts.Create {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create queue %s: %w", path, err)
		}
		f.Close()
	} else if err != nil {
		return nil, fmt.Errorf("queue %s: %w (check the path; 'pilot submit' creates a new queue)", path, err)
	}
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("campaign state directory: %w", err)
	}
	log := opts.Logger.With("queue", path)
	q := &FileQueue{
		path: path, dir: opts.StateDir, now: opts.Now, log: log,
		hook: opts.hook, owner: opts.Owner,
		idx: newIndex(filepath.Join(opts.StateDir, indexCacheFile), log),
	}
	q.res = newResultsLog(filepath.Join(q.dir, resultsFile), q.log)
	if opts.cacheLines > 0 {
		q.idx.cacheLines = opts.cacheLines
	}
	if err := q.idx.load(q.path); err != nil {
		return nil, err
	}
	if err := q.reload(); err != nil {
		return nil, err
	}
	return q, nil
}

// Path is the queue file; StateDir the campaign's state directory.
func (q *FileQueue) Path() string     { return q.path }
func (q *FileQueue) StateDir() string { return q.dir }

// Close releases the queue. It holds no open files between calls, so Close
// only makes later calls fail.
func (q *FileQueue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	return nil
}

// Claim takes a new epoch for this queue, so that every other writer is
// fenced from now on, and rereads the state. A leader calls it when it
// takes over (or to take the campaign back after ErrFenced); the first
// write claims on its own.
func (q *FileQueue) Claim() (epoch uint64, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.open(); err != nil {
		return 0, err
	}
	if err := q.claim(); err != nil {
		return 0, err
	}
	return q.epoch, nil
}

func (q *FileQueue) open() error {
	if q.closed {
		return fmt.Errorf("queue %s: closed", q.path)
	}
	return nil
}

func (q *FileQueue) claim() error {
	rec, err := claimEpoch(q.dir, q.owner, q.now(), false)
	if err != nil {
		return err
	}
	q.epoch = rec.Epoch
	q.log.Info("claimed campaign", "epoch", q.epoch, "owner", q.owner)
	if err := q.reload(); err != nil {
		return err
	}
	return q.res.repair()
}

// writable makes sure this queue may write the state: it claims the
// campaign on the first write, and later checks that no newer epoch holds
// it. A campaign handed back after another process's flush is adopted and
// its state reread.
func (q *FileQueue) writable() error {
	if err := q.open(); err != nil {
		return err
	}
	if q.epoch == 0 {
		return q.claim()
	}
	rec, err := readLock(q.dir)
	if err != nil {
		return err
	}
	switch {
	case rec.Epoch == q.epoch && rec.Owner == q.owner:
	case rec.Epoch > q.epoch && rec.Owner == q.owner && rec.HandBack:
		q.log.Info("campaign handed back", "epoch", rec.Epoch)
		q.epoch = rec.Epoch
		if err := q.reload(); err != nil {
			return err
		}
	default:
		return q.fencedBy(rec)
	}
	if q.dirty {
		return q.reload()
	}
	return q.refresh()
}

// fence checks, right before a write, that no newer epoch holds the
// campaign. With writable's check at the start of the operation, this
// leaves a deposed writer only the time of one write to slip one past it.
func (q *FileQueue) fence() error {
	rec, err := readLock(q.dir)
	if err != nil {
		return err
	}
	if rec.Epoch != q.epoch || rec.Owner != q.owner {
		return q.fencedBy(rec)
	}
	return nil
}

func (q *FileQueue) fencedBy(rec lockRecord) error {
	return fmt.Errorf("%w: %s holds epoch %d of %s, this writer had %d; claim again only if that writer is gone", ErrFenced, rec.Owner, rec.Epoch, q.dir, q.epoch)
}

// refresh reads what others appended: new queue lines and new results.
func (q *FileQueue) refresh() error {
	if err := q.idx.refresh(q.path); err != nil {
		return err
	}
	return q.res.refresh()
}

// reload rereads state.json and derives everything the queue keeps in
// memory from it, the index and the results.
func (q *FileQueue) reload() error {
	q.dirty = true
	if err := q.refresh(); err != nil {
		return err
	}
	st, err := loadState(q.dir)
	if err != nil {
		return err
	}
	cur, ok := q.idx.find(st.Cursor)
	if ok && cur > 0 {
		l := q.idx.lines[cur-1]
		ok = int(l.no) == st.CursorLine && l.crc == st.CursorCRC
	}
	if !ok {
		return fmt.Errorf("%w: the campaign read %s up to line %d (byte %d), but that line is no longer there as it was; restore the file, or start a new campaign with another state directory", ErrRewritten, q.path, st.CursorLine, st.Cursor)
	}
	for id := range st.Leases {
		if _, done := q.res.state[id]; done {
			delete(st.Leases, id) // a crash came between the result and the state
		}
	}
	q.st, q.cur = st, cur
	q.pending = q.pending[:0]
	for p := 0; p < cur; p++ {
		if q.isPending(p) {
			q.pending = append(q.pending, p)
		}
	}
	heap.Init(&q.pending)
	q.dirty = false
	return nil
}

// isPending reports whether the line at p (already read) is a task waiting
// for a lease.
func (q *FileQueue) isPending(p int) bool {
	l := &q.idx.lines[p]
	if l.bad != "" || l.off < q.st.FlushedBelow {
		return false
	}
	if _, done := q.res.state[l.id]; done {
		return false
	}
	_, leased := q.st.Leases[l.id]
	return !leased
}

// save writes the state, checking the fence again right before.
func (q *FileQueue) save() error {
	if err := q.step("state:write"); err != nil {
		return err
	}
	if err := q.fence(); err != nil {
		return err
	}
	q.st.Epoch = q.epoch
	if q.cur > 0 {
		l := q.idx.lines[q.cur-1]
		q.st.Cursor, q.st.CursorLine, q.st.CursorCRC = l.off+int64(l.n)+1, int(l.no), l.crc
	}
	return saveState(q.dir, &q.st)
}

// step runs the test hook at a named point between two writes.
func (q *FileQueue) step(name string) error {
	if q.hook == nil {
		return nil
	}
	return q.hook(name)
}

// failed rereads the state after a write failed part way, so memory never
// runs ahead of the disk, and returns err.
func (q *FileQueue) failed(err error) error {
	if rerr := q.reload(); rerr != nil {
		q.log.Error("reread the campaign state after a failed write", "err", rerr)
	}
	return err
}

// posHeap is the read lines that wait for a lease again (released or
// expired), lowest line first. Entries that stopped being pending are
// dropped when they come up.
type posHeap []int

func (h posHeap) Len() int           { return len(h) }
func (h posHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h posHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *posHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *posHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
