package server

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pilot-hpc/pilot/upstream"
)

// FlushRecord describes one flush: the epoch it ended and what it archived.
type FlushRecord struct {
	Epoch   uint64    `json:"epoch"`
	Pending int       `json:"pending"`
	Leased  int       `json:"leased"`
	At      time.Time `json:"at"`
}

// Flush archives every pending and leased task by starting a new epoch:
// the leased tasks join the pending ones in the old epoch's FIFO, which
// stays in the file as the archive (read it back with Archive); its tasks
// count as flushed and results of them are refused. One transaction that
// touches only the leased window, however long the backlog.
func (s *Store) Flush(ctx context.Context) (upstream.FlushReport, error) {
	var rep upstream.FlushReport
	err := s.update(ctx, func(t *txn) error {
		old := t.c.Epoch
		rep = upstream.FlushReport{Pending: t.c.Pending, Leased: t.c.Leased,
			Archive: fmt.Sprintf("epoch %d (GET /v1/archive?epoch=%d; bucket %s of %s)", old, old, pendingName(old), s.path)}
		cur := t.leases.Cursor()
		for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
			rec, ok := t.rec(string(k[8:]))
			if !ok {
				return fmt.Errorf("lease %x names a task with no record", k)
			}
			if err := t.pending.Put(u64(rec.Seq), k[8:]); err != nil {
				return err
			}
		}
		b, err := json.Marshal(FlushRecord{Epoch: old, Pending: t.c.Pending, Leased: t.c.Leased, At: s.now().UTC()})
		if err != nil {
			return err
		}
		if err := t.tx.Bucket(bFlushes).Put(u64(old), b); err != nil {
			return err
		}
		t.c.Flushed += t.c.Pending + t.c.Leased
		t.c.Pending, t.c.Leased = 0, 0
		if err := t.tx.DeleteBucket(bLeasedBy); err != nil {
			return err
		}
		if t.leasedBy, err = t.tx.CreateBucket(bLeasedBy); err != nil {
			return err
		}
		t.c.Epoch++
		return t.openEpoch()
	})
	return rep, err
}

// Flushes lists every flush so far, oldest first.
func (s *Store) Flushes() ([]FlushRecord, error) {
	out := []FlushRecord{}
	err := s.view(func(t *txn) error {
		return t.tx.Bucket(bFlushes).ForEach(func(k, v []byte) error {
			var r FlushRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("flush record %d is corrupt: %w", beUint64(k), err)
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// Archive reads up to max task lines that the flush ending epoch archived,
// in queue order after cursor from, and the cursor to go on from. A task
// submitted again after the flush shows its newer line.
func (s *Store) Archive(epoch, from uint64, max int) ([]json.RawMessage, uint64, error) {
	if max <= 0 || max > MaxResultsPage {
		max = MaxResultsPage
	}
	var out []json.RawMessage
	next := from
	err := s.view(func(t *txn) error {
		if epoch == 0 || epoch >= t.c.Epoch {
			return fmt.Errorf("%w: epoch %d was not flushed; GET /v1/archive lists the flushes", upstream.ErrBadRequest, epoch)
		}
		b := t.tx.Bucket(pendingName(epoch))
		if b == nil {
			return fmt.Errorf("the archive of epoch %d is missing from %s", epoch, s.path)
		}
		cur := b.Cursor()
		size := 0
		for k, id := cur.Seek(u64(from + 1)); k != nil && len(out) < max && size < MaxResultsPageBytes; k, id = cur.Next() {
			line := t.specs.Get(id)
			size += len(line)
			out = append(out, append(json.RawMessage(nil), line...))
			next = beUint64(k)
		}
		return nil
	})
	return out, next, err
}
