package upstream

import (
	"context"

	"github.com/pilot-hpc/pilot/task"
)

// Complete records final results: the first one per task, appended with
// one write and fsynced before it returns; that one write is all it costs
// unless it saw duplicates or expired leases. A later result for a task is
// counted as a duplicate; one for a flushed or unknown task, or one that is
// not a final state, is refused. The task's lease ends, whoever held it.
func (q *FileQueue) Complete(ctx context.Context, cluster string, results []task.Result) (CompleteReport, error) {
	var rep CompleteReport
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.writable(); err != nil {
		return rep, err
	}
	var accept []task.Result
	batch := map[string]bool{}
	for _, r := range results {
		p, known := q.idx.byID[r.ID]
		_, done := q.res.state[r.ID]
		switch {
		case done || batch[r.ID]:
			rep.Duplicates = append(rep.Duplicates, r.ID)
		case !known || q.idx.lines[p].bad != "" || q.idx.lines[p].off < q.st.FlushedBelow ||
			(r.State != task.StateDone && r.State != task.StateFailed):
			rep.Refused = append(rep.Refused, r.ID)
			q.log.Warn("result refused", "task", r.ID, "cluster", cluster, "state", r.State, "known", known)
		default:
			batch[r.ID] = true
			accept = append(accept, r)
		}
	}
	if err := q.res.append(accept); err != nil {
		return CompleteReport{}, q.failed(err)
	}
	if err := q.step("complete:results-written"); err != nil {
		return CompleteReport{}, q.failed(err)
	}
	for _, r := range accept {
		delete(q.st.Leases, r.ID)
	}
	q.st.Duplicates += len(rep.Duplicates)
	// The leases of finished tasks need no write: the state on disk may
	// keep them, and reading it drops every lease of a task with a result.
	// The next write of the state leaves them out.
	if expired := q.expire(q.now()); expired > 0 || len(rep.Duplicates) > 0 {
		if err := q.save(); err != nil {
			return CompleteReport{}, q.failed(err)
		}
	}
	rep.Accepted = len(accept)
	return rep, nil
}
