package client

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// batcher gathers submissions into batches and sends them, one batch at a
// time, in the order they were submitted.
func (e *Executor) batcher() {
	defer e.wg.Done()
	var batch []submission
	var linger <-chan time.Time
	for {
		select {
		case s := <-e.in:
			if s.flushed != nil {
				e.send(batch)
				batch, linger = batch[:0], nil
				close(s.flushed)
				continue
			}
			batch = append(batch, s)
			if len(batch) == 1 {
				linger = time.After(e.opts.Linger)
			}
			if len(batch) >= e.opts.BatchSize {
				e.send(batch)
				batch, linger = batch[:0], nil
			}
		case <-linger:
			e.send(batch)
			batch, linger = batch[:0], nil
		case <-e.ctx.Done():
			for {
				select {
				case s := <-e.in:
					batch = append(batch, s)
					continue
				default:
				}
				break
			}
			for _, s := range batch {
				if s.flushed != nil {
					close(s.flushed)
					continue
				}
				s.f.ack(fmt.Errorf("task %s: %w before the queue stored it", s.f.ID, ErrClosed))
			}
			return
		}
	}
}

// send submits one batch, retrying outages with capped backoff until the
// Executor is closed, and acknowledges every future in it.
func (e *Executor) send(batch []submission) {
	if len(batch) == 0 {
		return
	}
	specs := make([]task.Spec, len(batch))
	for i, s := range batch {
		specs[i] = s.spec
	}
	wait := 50 * time.Millisecond
	for {
		rep, err := e.q.Submit(e.ctx, specs)
		if err == nil {
			refused := make(map[int]string, len(rep.Rejected))
			for _, r := range rep.Rejected {
				refused[r.Index] = r.Reason
			}
			for i, s := range batch {
				if reason, ok := refused[i]; ok {
					e.forget(s.f)
					s.f.ack(fmt.Errorf("task %s refused by the queue: %s", s.f.ID, reason))
				} else {
					s.f.ack(nil)
				}
			}
			return
		}
		if !errors.Is(err, upstream.ErrUnavailable) || e.ctx.Err() != nil {
			for _, s := range batch {
				e.forget(s.f)
				s.f.ack(fmt.Errorf("submitting task %s: %w", s.f.ID, err))
			}
			return
		}
		e.log.Warn("queue unavailable, retrying the submission", "tasks", len(batch), "wait", wait, "err", err)
		select {
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		case <-e.ctx.Done():
		}
		wait = min(2*wait, 10*time.Second)
	}
}
