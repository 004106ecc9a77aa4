package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// item is one valid task to store: its spec (defaults applied) and its JSON
// line, which is what a lease hands out.
type item struct {
	spec task.Spec
	line []byte
}

// Submit validates specs and stores the valid ones in one transaction.
func (s *Store) Submit(ctx context.Context, specs []task.Spec) (upstream.SubmitReport, error) {
	var rep upstream.SubmitReport
	items := make([]item, 0, len(specs))
	index := make([]int, 0, len(specs))
	for i := range specs {
		sp := specs[i]
		if err := sp.Validate(); err != nil {
			rep.Rejected = append(rep.Rejected, upstream.Rejection{Index: i, ID: sp.ID, Reason: err.Error()})
			continue
		}
		sp.ApplyDefaults()
		line, err := json.Marshal(&sp)
		if err != nil {
			rep.Rejected = append(rep.Rejected, upstream.Rejection{Index: i, ID: sp.ID, Reason: err.Error()})
			continue
		}
		items = append(items, item{spec: sp, line: line})
		index = append(index, i)
	}
	n, conflicts, err := s.store(ctx, items)
	if err != nil {
		return upstream.SubmitReport{}, err
	}
	rep.Accepted = n
	for _, c := range conflicts {
		c.Index = index[c.Index]
		rep.Rejected = append(rep.Rejected, c)
	}
	return rep, nil
}

// store appends items to the pending FIFO in one transaction. A task whose
// id the campaign already has is accepted without a change when it is the
// same task (so a client may resend a batch it got no answer for), and
// refused otherwise. Ids of flushed tasks may be used again. Conflicts carry
// the index into items.
func (s *Store) store(ctx context.Context, items []item) (accepted int, conflicts []upstream.Rejection, err error) {
	err = s.update(ctx, func(t *txn) error {
		accepted, conflicts = 0, nil
		for i, it := range items {
			id := []byte(it.spec.ID)
			if rec, ok := t.rec(it.spec.ID); ok && !rec.flushed(t.c.Epoch) {
				if sameTask(t.specs.Get(id), it) {
					accepted++
					continue
				}
				conflicts = append(conflicts, upstream.Rejection{Index: i, ID: it.spec.ID,
					Reason: fmt.Sprintf("id %q is already used in this campaign by a different task; give the new task a new id", it.spec.ID)})
				continue
			}
			t.c.Seq++
			rec := taskRec{State: statePending, Epoch: t.c.Epoch, Seq: t.c.Seq, Cores: it.spec.Cores}
			if err := t.specs.Put(id, it.line); err != nil {
				return err
			}
			if err := t.putRec(it.spec.ID, &rec); err != nil {
				return err
			}
			if err := t.pending.Put(u64(rec.Seq), id); err != nil {
				return err
			}
			t.c.Pending++
			accepted++
		}
		return nil
	})
	return accepted, conflicts, err
}

func sameTask(old []byte, it item) bool {
	if bytes.Equal(old, it.line) {
		return true
	}
	prev, err := task.Parse(old)
	if err != nil {
		return false
	}
	a, errA := json.Marshal(&prev)
	b, errB := json.Marshal(&it.spec)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}
