package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	bolt "go.etcd.io/bbolt"

	"github.com/pilot-hpc/pilot/upstream"
)

// Store is the queue's storage: one bbolt file. Every method is safe for
// concurrent use; writes are serialised by bbolt and each one is fsynced
// before it returns.
type Store struct {
	db   *bolt.DB
	path string
	now  func() time.Time

	mu      sync.Mutex
	results chan struct{} // closed and replaced whenever results are added
	stop    chan struct{} // closed by StopWaiting
	once    sync.Once
}

var _ upstream.Queue = (*Store)(nil)

var (
	bTasks    = []byte("tasks")
	bSpecs    = []byte("specs")
	bMeta     = []byte("meta")
	bResults  = []byte("results")
	bDups     = []byte("dups")
	bLeasedBy = []byte("leasedby")
	bFlushes  = []byte("flushes")
	kCounters = []byte("counters")
)

// OpenStore opens (or creates) DIR/queue.db. now is the clock for lease
// expiry; nil means time.Now (tests pass a fake one).
func OpenStore(dir string, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("queue data directory: %w", err)
	}
	path := filepath.Join(dir, "queue.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        time.Second,
		FreelistType:   bolt.FreelistMapType,
		NoFreelistSync: true, // the freelist is rebuilt on open; data pages are still fsynced on every commit
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%s is locked by another process: is another 'pilot serve' using --data %s?", path, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	s := &Store{db: db, path: path, now: now, results: make(chan struct{}), stop: make(chan struct{})}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bTasks, bSpecs, bMeta, bResults, bDups, bLeasedBy, bFlushes} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		t, err := begin(tx)
		if err != nil {
			return err
		}
		return t.commit()
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialising %s: %w", path, err)
	}
	return s, nil
}

// Path is the bbolt file.
func (s *Store) Path() string { return s.path }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// txn is one write transaction with its buckets and the counters, which
// commit writes back.
type txn struct {
	tx                                          *bolt.Tx
	c                                           counters
	tasks, specs, results, dups, leasedBy, meta *bolt.Bucket
	pending, leases                             *bolt.Bucket
}

func begin(tx *bolt.Tx) (*txn, error) {
	t := &txn{tx: tx, tasks: tx.Bucket(bTasks), specs: tx.Bucket(bSpecs), results: tx.Bucket(bResults),
		dups: tx.Bucket(bDups), leasedBy: tx.Bucket(bLeasedBy), meta: tx.Bucket(bMeta)}
	if b := t.meta.Get(kCounters); b != nil {
		if err := msgpack.Unmarshal(b, &t.c); err != nil {
			return nil, fmt.Errorf("meta counters are corrupt: %w", err)
		}
	}
	if t.c.Epoch == 0 {
		t.c.Epoch = 1
	}
	if err := t.openEpoch(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *txn) openEpoch() error {
	if !t.tx.Writable() {
		t.pending, t.leases = t.tx.Bucket(pendingName(t.c.Epoch)), t.tx.Bucket(leasesName(t.c.Epoch))
		return nil
	}
	var err error
	if t.pending, err = t.tx.CreateBucketIfNotExists(pendingName(t.c.Epoch)); err != nil {
		return err
	}
	t.leases, err = t.tx.CreateBucketIfNotExists(leasesName(t.c.Epoch))
	return err
}

func (t *txn) commit() error { return t.meta.Put(kCounters, encode(&t.c)) }

func (t *txn) rec(id string) (taskRec, bool) {
	b := t.tasks.Get([]byte(id))
	if b == nil {
		return taskRec{}, false
	}
	return decodeRec([]byte(id), b), true
}

func (t *txn) putRec(id string, r *taskRec) error { return t.tasks.Put([]byte(id), encode(r)) }

func (t *txn) addLeasedBy(cluster string, d int) error {
	var n uint64
	if b := t.leasedBy.Get([]byte(cluster)); b != nil {
		n = beUint64(b)
	}
	n = uint64(int64(n) + int64(d))
	if n == 0 {
		return t.leasedBy.Delete([]byte(cluster))
	}
	return t.leasedBy.Put([]byte(cluster), u64(n))
}

// update runs fn in one write transaction (fsynced on commit).
func (s *Store) update(ctx context.Context, fn func(t *txn) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: the request ended before it was stored: %v", upstream.ErrUnavailable, err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		t, err := begin(tx)
		if err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
		return t.commit()
	})
	if err != nil && !errors.Is(err, upstream.ErrBadRequest) {
		return fmt.Errorf("%w: %s: %v", upstream.ErrUnavailable, s.path, err)
	}
	return err
}

func (s *Store) view(fn func(t *txn) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		t, err := begin(tx)
		if err != nil {
			return err
		}
		return fn(t)
	})
}

// notifyResults wakes every ResultsWait.
func (s *Store) notifyResults() {
	s.mu.Lock()
	close(s.results)
	s.results = make(chan struct{})
	s.mu.Unlock()
}

// StopWaiting ends every ResultsRaw that is waiting, now and later, so a
// server can shut down without waiting out long polls.
func (s *Store) StopWaiting() { s.once.Do(func() { close(s.stop) }) }

func (s *Store) resultsChanged() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.results
}
