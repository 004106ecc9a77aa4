package client

import (
	"context"
	"time"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// page is how many results one read asks for.
const page = 1000

// follow reads the results stream from opts.From until Close and resolves
// the futures waiting for each id.
func (e *Executor) follow() {
	defer e.wg.Done()
	waiter, canWait := e.q.(upstream.ResultsWaiter)
	cursor := e.opts.From
	backoff := e.opts.PollEvery
	for e.ctx.Err() == nil {
		var res []task.Result
		var next upstream.Cursor
		var err error
		if canWait {
			res, next, err = waiter.ResultsWait(e.ctx, cursor, page, 30*time.Second)
		} else {
			res, next, err = e.q.Results(e.ctx, cursor, page)
		}
		if err != nil {
			if e.ctx.Err() == nil {
				e.log.Warn("reading results failed, retrying", "cursor", cursor, "wait", backoff, "err", err)
				e.sleep(backoff)
				backoff = min(2*backoff, time.Minute)
			}
			continue
		}
		backoff = e.opts.PollEvery
		e.resolve(cursor, res)
		cursor = next
		if len(res) == 0 && !canWait {
			e.sleep(e.opts.PollEvery)
		}
	}
}

func (e *Executor) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-e.ctx.Done():
	}
}

// resolve hands each result to the futures waiting for it and remembers
// which page it was on.
func (e *Executor) resolve(from upstream.Cursor, res []task.Result) {
	var ready []*Future
	var results []task.Result
	e.mu.Lock()
	for _, r := range res {
		if _, dup := e.seen[r.ID]; !dup {
			e.seen[r.ID] = from
		}
		for _, f := range e.waiting[r.ID] {
			ready = append(ready, f)
			results = append(results, r)
		}
		delete(e.waiting, r.ID)
	}
	e.mu.Unlock()
	for i, f := range ready {
		f.finish(results[i], nil)
	}
}

// resolveFrom resolves a future whose result the follower passed before it
// was submitted, by reading the page it was on again.
func (e *Executor) resolveFrom(f *Future, from upstream.Cursor) {
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	res, _, err := e.q.Results(ctx, from, page)
	if err != nil {
		f.finish(task.Result{}, err)
		return
	}
	for _, r := range res {
		if r.ID == f.ID {
			f.finish(r, nil)
			return
		}
	}
}
