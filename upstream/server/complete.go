package server

import (
	"context"
	"encoding/json"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// Complete records final results in one transaction. The first result of a
// task is accepted, whoever holds its lease (tasks are idempotent, so the
// work of an expired lease is as good as any); later ones are kept in the
// dups bucket and counted, never as a second result. Results for flushed or
// unknown tasks are refused.
func (s *Store) Complete(ctx context.Context, cluster string, results []task.Result) (upstream.CompleteReport, error) {
	var rep upstream.CompleteReport
	if err := validCluster(cluster); err != nil {
		return rep, err
	}
	lines := make([][]byte, len(results))
	for i := range results {
		if err := validResult(&results[i]); err != nil {
			return rep, err
		}
		b, err := json.Marshal(&results[i])
		if err != nil {
			return rep, err
		}
		lines[i] = b
	}
	err := s.update(ctx, func(t *txn) error {
		rep = upstream.CompleteReport{}
		for i := range results {
			if err := t.complete(&results[i], lines[i], &rep); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && rep.Accepted > 0 {
		s.notifyResults()
	}
	return rep, err
}

func (t *txn) complete(r *task.Result, line []byte, rep *upstream.CompleteReport) error {
	rec, ok := t.rec(r.ID)
	switch {
	case !ok || rec.flushed(t.c.Epoch):
		rep.Refused = append(rep.Refused, r.ID)
		return nil
	case rec.State.final():
		rep.Duplicates = append(rep.Duplicates, r.ID)
		t.c.DupSeq++
		t.c.Duplicates++
		return t.dups.Put(u64(t.c.DupSeq), line)
	case rec.State == stateLeased:
		if err := t.leases.Delete(leaseKey(rec.Expiry, r.ID)); err != nil {
			return err
		}
		if err := t.addLeasedBy(rec.Cluster, -1); err != nil {
			return err
		}
		t.c.Leased--
	default: // pending: its lease expired, the work was done anyway
		if err := t.pending.Delete(u64(rec.Seq)); err != nil {
			return err
		}
		t.c.Pending--
	}
	rec.Cluster, rec.Lease, rec.Expiry = "", "", 0
	if r.State == task.StateDone {
		rec.State = stateDone
		t.c.Done++
	} else {
		rec.State = stateFailed
		t.c.Failed++
	}
	if err := t.putRec(r.ID, &rec); err != nil {
		return err
	}
	t.c.ResultSeq++
	rep.Accepted++
	return t.results.Put(u64(t.c.ResultSeq), line)
}
