package upstream

import (
	"context"

	"github.com/pilot-hpc/pilot/task"
)

// Status counts every line of the queue in exactly one state. Lines not
// read yet (malformed ones too) are pending; a read line that was not a
// task is failed. It needs no claim and works whether or not a pilot runs.
func (q *FileQueue) Status(ctx context.Context) (Status, error) {
	var s Status
	if err := ctx.Err(); err != nil {
		return s, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.read(); err != nil {
		return s, err
	}
	now := q.now()
	for p := range q.idx.lines {
		l := &q.idx.lines[p]
		if r, done := q.res.state[l.id]; done {
			if r.state == task.StateDone {
				s.Done++
			} else {
				s.Failed++
			}
			continue
		}
		if l.off < q.st.FlushedBelow {
			s.Flushed++
			continue
		}
		if ls, ok := q.st.Leases[l.id]; ok && now.Before(ls.Expires) {
			s.Leased++
			if s.LeasedBy == nil {
				s.LeasedBy = map[string]int{}
			}
			s.LeasedBy[ls.Cluster]++
			continue
		}
		s.Pending++
	}
	s.Duplicates = q.st.Duplicates
	return s, nil
}

// Results lists results from cursor on (a byte offset in results.jsonl),
// at most max of them (1000 when max <= 0), and the cursor to go on from.
func (q *FileQueue) Results(ctx context.Context, from Cursor, max int) ([]task.Result, Cursor, error) {
	if err := ctx.Err(); err != nil {
		return nil, from, err
	}
	if max <= 0 {
		max = 1000
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.open(); err != nil {
		return nil, from, err
	}
	if err := q.res.refresh(); err != nil {
		return nil, from, err
	}
	return q.res.read(from, max)
}

// read brings the queue up to date for a reading call. The writer's memory
// is the state, so it only rereads what others appended; a campaign handed
// back is adopted; a reader, or a writer fenced by a newer epoch, rereads
// the state from the disk.
func (q *FileQueue) read() error {
	if err := q.open(); err != nil {
		return err
	}
	if q.epoch != 0 {
		rec, err := readLock(q.dir)
		if err != nil {
			return err
		}
		switch {
		case rec.Epoch == q.epoch && rec.Owner == q.owner && !q.dirty:
			return q.refresh()
		case rec.Epoch > q.epoch && rec.Owner == q.owner && rec.HandBack:
			q.log.Info("campaign handed back", "epoch", rec.Epoch)
			q.epoch = rec.Epoch
		}
	}
	return q.reload()
}
