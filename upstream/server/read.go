package server

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// Caps of one Results page: records, and bytes (a page always has at least
// one record when there is one).
const (
	MaxResultsPage      = 10000
	MaxResultsPageBytes = 16 << 20
)

// Status reads the counters; it never scans the tasks.
func (s *Store) Status(ctx context.Context) (upstream.Status, error) {
	var st upstream.Status
	err := s.view(func(t *txn) error {
		c := t.c
		st = upstream.Status{Pending: c.Pending, Leased: c.Leased, Done: c.Done, Failed: c.Failed,
			Flushed: c.Flushed, Duplicates: c.Duplicates, LeasedBy: map[string]int{}}
		return t.leasedBy.ForEach(func(k, v []byte) error {
			st.LeasedBy[string(k)] = int(beUint64(v))
			return nil
		})
	})
	if err != nil {
		return st, fmt.Errorf("%w: %s: %v", upstream.ErrUnavailable, s.path, err)
	}
	return st, nil
}

// Results reads up to max results after cursor from.
func (s *Store) Results(ctx context.Context, from upstream.Cursor, max int) ([]task.Result, upstream.Cursor, error) {
	raw, next, err := s.ResultsRaw(ctx, from, max, 0)
	if err != nil {
		return nil, from, err
	}
	out := make([]task.Result, len(raw))
	for i, b := range raw {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			return nil, from, fmt.Errorf("%s: result record after cursor %d is corrupt: %w", s.path, from, err)
		}
	}
	return out, next, nil
}

// ResultsRaw reads up to max result records (as stored JSON) after cursor
// from; when there are none it waits up to wait for one to arrive.
func (s *Store) ResultsRaw(ctx context.Context, from upstream.Cursor, max int, wait time.Duration) ([]json.RawMessage, upstream.Cursor, error) {
	if max <= 0 || max > MaxResultsPage {
		max = MaxResultsPage
	}
	var deadline <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		deadline = t.C
	}
	for {
		changed := s.resultsChanged()
		var out []json.RawMessage
		next := from
		err := s.view(func(t *txn) error {
			cur := t.results.Cursor()
			size := 0
			for k, v := cur.Seek(u64(uint64(from) + 1)); k != nil && len(out) < max && size < MaxResultsPageBytes; k, v = cur.Next() {
				size += len(v)
				out = append(out, append(json.RawMessage(nil), v...))
				next = upstream.Cursor(beUint64(k))
			}
			return nil
		})
		if err != nil {
			return nil, from, fmt.Errorf("%w: %s: %v", upstream.ErrUnavailable, s.path, err)
		}
		if len(out) > 0 || deadline == nil {
			return out, next, nil
		}
		select {
		case <-changed:
		case <-deadline:
			return out, next, nil
		case <-ctx.Done():
			return out, next, nil
		case <-s.stop:
			return out, next, nil
		}
	}
}
