package upstream

import (
	"container/heap"
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// leaseLookahead bounds how many lines one Lease looks at beyond what it
// hands out, when tasks do not fit the cores asked for.
const leaseLookahead = 1024

// Lease hands out pending tasks in file order: first those released or
// expired, then new lines from the read cursor on. A task that already has
// a result is skipped (a new cluster never reruns a finished task); a line
// that is not a task becomes a failed result naming its line. A task with
// more cores than remain in req.MaxCores is skipped and stays pending.
func (q *FileQueue) Lease(ctx context.Context, req LeaseRequest) ([]Leased, error) {
	if req.MaxTasks <= 0 || req.TTL <= 0 || req.Cluster == "" || req.MaxCores < 0 {
		return nil, fmt.Errorf("%w: lease needs a cluster, MaxTasks > 0 and TTL > 0, got %+v", ErrBadRequest, req)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.writable(); err != nil {
		return nil, err
	}
	now := q.now()
	expired := q.expire(now)

	var (
		picked    []int
		skipped   []int
		bad       []task.Result
		cores     int
		looked    int
		curBefore = q.cur
	)
	limit := req.MaxTasks + leaseLookahead
	fits := func(p int) bool {
		c := int(q.idx.lines[p].cores)
		return req.MaxCores == 0 || cores+c <= req.MaxCores
	}
	for len(picked) < req.MaxTasks && len(q.pending) > 0 && looked < limit {
		p := heap.Pop(&q.pending).(int)
		if !q.isPending(p) {
			continue
		}
		looked++
		if !fits(p) {
			skipped = append(skipped, p)
			continue
		}
		picked = append(picked, p)
		cores += int(q.idx.lines[p].cores)
	}
	for len(picked) < req.MaxTasks && q.cur < len(q.idx.lines) && looked < limit {
		p := q.cur
		q.cur++
		l := &q.idx.lines[p]
		if l.bad != "" {
			if _, done := q.res.state[l.id]; !done {
				bad = append(bad, q.badResult(l))
			}
			continue
		}
		if !q.isPending(p) {
			continue
		}
		looked++
		if !fits(p) {
			skipped = append(skipped, p)
			continue
		}
		picked = append(picked, p)
		cores += int(q.idx.lines[p].cores)
	}
	for _, p := range skipped {
		heap.Push(&q.pending, p)
	}

	out, err := q.readSpecs(picked)
	if err != nil {
		return nil, q.failed(err)
	}
	if err := q.res.append(bad); err != nil {
		return nil, q.failed(err)
	}
	if err := q.step("lease:results-written"); err != nil {
		return nil, q.failed(err)
	}
	if len(out) == 0 && len(bad) == 0 && expired == 0 && q.cur == curBefore {
		return nil, nil // nothing changed: no write
	}
	exp := now.Add(req.TTL)
	for i := range out {
		q.st.Seq++
		out[i].Lease = fmt.Sprintf("%d.%d", q.epoch, q.st.Seq)
		q.st.Leases[out[i].Spec.ID] = leaseRec{Cluster: req.Cluster, Lease: out[i].Lease, Expires: exp}
	}
	if err := q.save(); err != nil {
		return nil, q.failed(err)
	}
	if len(bad) > 0 {
		q.log.Warn("queue lines that are not tasks recorded as failed", "lines", len(bad), "first", bad[0].Error)
	}
	return out, nil
}

// readSpecs reads the tasks at the given lines back from the queue file.
func (q *FileQueue) readSpecs(ps []int) ([]Leased, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	f, err := os.Open(q.path)
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", q.path, err)
	}
	defer f.Close()
	// Decoding dominates a lease of large tasks (1,000 of 10 kB is 10 MB of
	// JSON): spread it over the CPUs. The index is only read meanwhile.
	out := make([]Leased, len(ps))
	workers := min(runtime.GOMAXPROCS(0), 4, 1+len(ps)/64)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(ps); i += workers {
				if out[i].Spec, errs[w] = q.idx.spec(f, q.path, ps[i]); errs[w] != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// badResult is the failed result of a line that is not a task.
func (q *FileQueue) badResult(l *qline) task.Result {
	return task.Result{
		ID:    l.id,
		State: task.StateFailed,
		Line:  int(l.no),
		Error: fmt.Sprintf("%s:%d: %s", q.path, l.no, l.bad),
	}
}

// expire returns the tasks of leases that ran out to pending, and says how
// many there were.
func (q *FileQueue) expire(now time.Time) (n int) {
	for id, l := range q.st.Leases {
		if now.Before(l.Expires) {
			continue
		}
		delete(q.st.Leases, id)
		n++
		q.log.Info("lease expired", "task", id, "cluster", l.Cluster, "lease", l.Lease)
		if p, ok := q.idx.byID[id]; ok && q.isPending(p) {
			heap.Push(&q.pending, p)
		}
	}
	return n
}

// Renew extends the leases that cluster still holds, and returns the ids it
// no longer holds.
func (q *FileQueue) Renew(ctx context.Context, cluster string, ids []string, ttl time.Duration) ([]string, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("%w: renew needs a TTL > 0", ErrBadRequest)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.writable(); err != nil {
		return nil, err
	}
	now := q.now()
	var lost []string
	for _, id := range ids {
		l, ok := q.st.Leases[id]
		if !ok || l.Cluster != cluster {
			lost = append(lost, id)
			continue
		}
		l.Expires = now.Add(ttl)
		q.st.Leases[id] = l
	}
	q.expire(now)
	if err := q.save(); err != nil {
		return nil, q.failed(err)
	}
	return lost, nil
}

// Release returns the tasks that cluster holds to pending. Ids it does not
// hold are left alone.
func (q *FileQueue) Release(ctx context.Context, cluster string, ids []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.writable(); err != nil {
		return err
	}
	for _, id := range ids {
		if l, ok := q.st.Leases[id]; ok && l.Cluster == cluster {
			delete(q.st.Leases, id)
			if p, known := q.idx.byID[id]; known && q.isPending(p) {
				heap.Push(&q.pending, p)
			}
		}
	}
	q.expire(q.now())
	if err := q.save(); err != nil {
		return q.failed(err)
	}
	return nil
}
