package batch

import (
	"context"
	"fmt"
)

// DefaultConfirmations is how many polls in a row must miss a job before
// Tracker calls it Gone.
const DefaultConfirmations = 3

// Tracker follows jobs across polls of a Scheduler and decides when a job
// that the batch system no longer lists has ended: only after Confirmations
// polls in a row miss it, so one slow or partial answer never ends a live
// pilot, and a purged job never stays "pending forever". An outage (an
// error from Status) counts as no poll at all.
//
// A Tracker is not safe for concurrent use; one launch loop owns it.
type Tracker struct {
	// Confirmations is the number of missing polls in a row that make a
	// job Gone; 0 means DefaultConfirmations.
	Confirmations int

	missing map[string]int
	last    map[string]JobStatus
}

// Poll asks s about ids and returns what Observe makes of the answer.
func (t *Tracker) Poll(ctx context.Context, s Scheduler, ids []string) (map[string]JobStatus, error) {
	got, err := s.Status(ctx, ids)
	if err != nil {
		return nil, err
	}
	return t.Observe(ids, got), nil
}

// Observe folds one batched answer (got, for ids) into what the tracker
// knows and returns a status for every id. A missing job keeps its last
// known status, with a Reason that says it is unconfirmed, until it has
// been missed Confirmations times; then it is Gone. A Gone job stays Gone.
// Ids not passed are forgotten.
func (t *Tracker) Observe(ids []string, got map[string]JobStatus) map[string]JobStatus {
	need := t.Confirmations
	if need <= 0 {
		need = DefaultConfirmations
	}
	missing, last := make(map[string]int, len(ids)), make(map[string]JobStatus, len(ids))
	out := make(map[string]JobStatus, len(ids))
	for _, id := range ids {
		prev, seen := t.last[id]
		if j, ok := got[id]; ok && !(seen && prev.State == Gone) {
			last[id], out[id] = j, j
			continue
		}
		if seen && prev.State == Gone {
			last[id], out[id] = prev, prev
			continue
		}
		n := t.missing[id] + 1
		if !seen {
			prev = JobStatus{ID: id, State: Pending}
		}
		if n >= need {
			prev.State = Gone
			prev.Reason = fmt.Sprintf("not listed by the batch system in %d polls in a row", n)
			last[id], out[id] = prev, prev
			continue
		}
		missing[id], last[id] = n, prev
		shown := prev
		shown.Reason = fmt.Sprintf("not listed by the batch system (%d of %d polls before it counts as gone)", n, need)
		out[id] = shown
	}
	t.missing, t.last = missing, last
	return out
}
