package server

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/pilot-hpc/pilot/upstream"
)

// Limits of one lease request.
const (
	MaxLeaseTasks = 10000
	MaxLeaseTTL   = 24 * time.Hour
	// MaxLeaseBytes bounds the task lines one lease hands out, so a lease
	// of big tasks stays a bounded answer; it always has at least one task.
	MaxLeaseBytes = 32 << 20
	// leaseScanSlack bounds how many pending tasks that do not fit
	// MaxCores one lease skips over, so a lease never scans the backlog.
	leaseScanSlack = 10000
)

// Lease hands up to req.MaxTasks pending tasks (and about MaxLeaseBytes of
// task lines), oldest first, to req.Cluster until now+req.TTL. Expired leases are returned to pending
// first. With req.MaxCores set, tasks that do not fit the remaining cores
// are skipped (they stay pending, in order).
func (s *Store) Lease(ctx context.Context, req upstream.LeaseRequest) ([]upstream.Leased, error) {
	if err := checkLease(req); err != nil {
		return nil, err
	}
	var out []upstream.Leased
	err := s.leaseRaw(ctx, req, func(lease string, line []byte) error {
		spec, err := parseStored(line)
		if err != nil {
			return err
		}
		out = append(out, upstream.Leased{Spec: spec, Lease: lease})
		return nil
	})
	return out, err
}

func checkLease(req upstream.LeaseRequest) error {
	if err := validCluster(req.Cluster); err != nil {
		return err
	}
	if req.MaxTasks < 1 || req.MaxTasks > MaxLeaseTasks {
		return fmt.Errorf("%w: max_tasks is %d; ask for 1 to %d tasks", upstream.ErrBadRequest, req.MaxTasks, MaxLeaseTasks)
	}
	if req.MaxCores < 0 {
		return fmt.Errorf("%w: max_cores is %d; give 0 (no limit) or a positive number", upstream.ErrBadRequest, req.MaxCores)
	}
	return checkTTL(req.TTL)
}

func checkTTL(ttl time.Duration) error {
	if ttl <= 0 || ttl > MaxLeaseTTL {
		return fmt.Errorf("%w: ttl is %s; give a lease time between 1ms and %s", upstream.ErrBadRequest, ttl, MaxLeaseTTL)
	}
	return nil
}

// leaseRaw leases and calls emit, inside the transaction, with each lease
// id and the task's stored JSON line (valid only during the call).
func (s *Store) leaseRaw(ctx context.Context, req upstream.LeaseRequest, emit func(lease string, line []byte) error) error {
	return s.update(ctx, func(t *txn) error {
		now := s.now()
		if err := t.reap(now.UnixNano()); err != nil {
			return err
		}
		expiry := now.Add(req.TTL).UnixNano()
		var take [][]byte // pending keys
		cores, skipped, size := 0, 0, 0
		cur := t.pending.Cursor()
		for k, v := cur.First(); k != nil && len(take) < req.MaxTasks && size < MaxLeaseBytes; k, v = cur.Next() {
			rec, ok := t.rec(string(v))
			if !ok {
				return fmt.Errorf("pending entry %x names task %q which has no record", k, v)
			}
			if req.MaxCores > 0 && cores+rec.Cores > req.MaxCores {
				if skipped++; skipped > leaseScanSlack {
					break
				}
				continue
			}
			cores += rec.Cores
			size += len(t.specs.Get(v))
			take = append(take, k)
		}
		for _, k := range take {
			id := string(t.pending.Get(k))
			if err := t.pending.Delete(k); err != nil {
				return err
			}
			rec, _ := t.rec(id)
			t.c.LeaseSeq++
			rec.State, rec.Cluster, rec.Expiry = stateLeased, req.Cluster, expiry
			rec.Lease = strconv.FormatUint(t.c.LeaseSeq, 10)
			if err := t.putRec(id, &rec); err != nil {
				return err
			}
			if err := t.leases.Put(leaseKey(expiry, id), []byte(req.Cluster)); err != nil {
				return err
			}
			if err := emit(rec.Lease, t.specs.Get([]byte(id))); err != nil {
				return err
			}
		}
		t.c.Pending -= len(take)
		t.c.Leased += len(take)
		return t.addLeasedBy(req.Cluster, len(take))
	})
}

// reap returns every lease that expired at or before now to pending, at
// its old place in the FIFO.
func (t *txn) reap(now int64) error {
	var expired [][]byte
	cur := t.leases.Cursor()
	for k, _ := cur.First(); k != nil && int64(beUint64(k[:8])) <= now; k, _ = cur.Next() {
		expired = append(expired, k)
	}
	for _, k := range expired {
		id := string(k[8:])
		if err := t.leases.Delete(k); err != nil {
			return err
		}
		if err := t.unlease(id); err != nil {
			return err
		}
	}
	return nil
}

// unlease moves a leased task back to pending; the caller has removed its
// lease key.
func (t *txn) unlease(id string) error {
	rec, ok := t.rec(id)
	if !ok || rec.State != stateLeased || rec.Epoch != t.c.Epoch {
		return fmt.Errorf("lease of %q points at a task that is not leased in this epoch", id)
	}
	if err := t.addLeasedBy(rec.Cluster, -1); err != nil {
		return err
	}
	rec.State, rec.Cluster, rec.Lease, rec.Expiry = statePending, "", "", 0
	if err := t.putRec(id, &rec); err != nil {
		return err
	}
	t.c.Leased--
	t.c.Pending++
	return t.pending.Put(u64(rec.Seq), []byte(id))
}

// held reports whether cluster holds a current lease on id.
func (t *txn) held(cluster, id string) (taskRec, bool) {
	rec, ok := t.rec(id)
	return rec, ok && rec.State == stateLeased && rec.Epoch == t.c.Epoch && rec.Cluster == cluster
}

// Reap returns expired leases to pending now; the server calls it on a
// ticker so Status does not count dead leases for long.
// It writes (and fsyncs) only when a lease has expired.
func (s *Store) Reap(ctx context.Context) error {
	now := s.now().UnixNano()
	expired := false
	err := s.view(func(t *txn) error {
		k, _ := t.leases.Cursor().First()
		expired = k != nil && int64(beUint64(k[:8])) <= now
		return nil
	})
	if err != nil || !expired {
		return err
	}
	return s.update(ctx, func(t *txn) error { return t.reap(now) })
}

// Renew extends the leases cluster still holds to now+ttl and returns the
// ids it does not hold (expired and re-leased, flushed, finished, unknown).
// A lease that expired but was not yet reaped is renewed.
func (s *Store) Renew(ctx context.Context, cluster string, ids []string, ttl time.Duration) ([]string, error) {
	if err := validCluster(cluster); err != nil {
		return nil, err
	}
	if err := checkTTL(ttl); err != nil {
		return nil, err
	}
	var lost []string
	err := s.update(ctx, func(t *txn) error {
		lost = nil
		expiry := s.now().Add(ttl).UnixNano()
		for _, id := range ids {
			rec, ok := t.held(cluster, id)
			if !ok {
				lost = append(lost, id)
				continue
			}
			if err := t.leases.Delete(leaseKey(rec.Expiry, id)); err != nil {
				return err
			}
			rec.Expiry = expiry
			if err := t.leases.Put(leaseKey(expiry, id), []byte(cluster)); err != nil {
				return err
			}
			if err := t.putRec(id, &rec); err != nil {
				return err
			}
		}
		return nil
	})
	return lost, err
}

// Release returns the tasks cluster holds among ids to pending; ids it
// does not hold are ignored.
func (s *Store) Release(ctx context.Context, cluster string, ids []string) error {
	_, err := s.release(ctx, cluster, ids)
	return err
}

func (s *Store) release(ctx context.Context, cluster string, ids []string) (int, error) {
	if err := validCluster(cluster); err != nil {
		return 0, err
	}
	n := 0
	err := s.update(ctx, func(t *txn) error {
		n = 0
		for _, id := range ids {
			rec, ok := t.held(cluster, id)
			if !ok {
				continue
			}
			if err := t.leases.Delete(leaseKey(rec.Expiry, id)); err != nil {
				return err
			}
			if err := t.unlease(id); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
