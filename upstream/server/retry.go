package server

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream/server/wire"
)

// bRetried keeps the failed results that Retry took back, by their old
// result sequence: archived, never destroyed.
var bRetried = []byte("retried")

// Retry puts failed tasks back to pending (ids empty: every failed task) in
// one transaction: each failed result moves from the results bucket to
// the retried bucket, and its task goes back to its place in the current
// epoch's pending queue. It scans the results, so it costs one pass over
// them. Results cursors stay valid: keys are never reused.
func (s *Store) Retry(ctx context.Context, ids []string) (int, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	n := 0
	err := s.update(ctx, func(t *txn) error {
		n = 0
		retried, err := t.tx.CreateBucketIfNotExists(bRetried)
		if err != nil {
			return err
		}
		cur := t.results.Cursor()
		for k, v := cur.First(); k != nil; {
			var head struct{ ID, State string }
			if json.Unmarshal(v, &head) != nil || head.State != task.StateFailed || (len(want) > 0 && !want[head.ID]) {
				k, v = cur.Next()
				continue
			}
			rec, ok := t.rec(head.ID)
			if !ok || rec.State != stateFailed {
				k, v = cur.Next()
				continue
			}
			key := append([]byte(nil), k...) // k is invalid after the Delete
			if err := retried.Put(key, append([]byte(nil), v...)); err != nil {
				return err
			}
			if err := cur.Delete(); err != nil {
				return err
			}
			rec.State, rec.Epoch = statePending, t.c.Epoch
			if err := t.putRec(head.ID, &rec); err != nil {
				return err
			}
			if err := t.pending.Put(u64(rec.Seq), []byte(head.ID)); err != nil {
				return err
			}
			t.c.Failed--
			t.c.Pending++
			n++
			k, v = cur.Seek(key) // the next key: Next after a Delete may skip one
		}
		return nil
	})
	return n, err
}

func (s *Server) retry(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var in wire.RetryRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	n, err := s.store.Retry(r.Context(), in.IDs)
	if err != nil {
		return err
	}
	s.log.Info("failed tasks retried", "tasks", n)
	writeJSON(w, http.StatusOK, wire.RetryResponse{Retried: n})
	return nil
}
