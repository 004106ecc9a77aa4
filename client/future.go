package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pilot-hpc/pilot/task"
)

// ErrTaskFailed is wrapped by Result's error when the task ended failed
// (after its attempts); the result record says why.
var ErrTaskFailed = errors.New("task failed")

// Future is the result of one submitted task, to come.
type Future struct {
	ID string

	submitted chan struct{} // closed when the queue stored the task or refused it
	done      chan struct{} // closed when the result (or a refusal) is in

	mu     sync.Mutex
	subErr error
	res    task.Result
	err    error
	subs   []chan<- *Future
}

func newFuture(id string) *Future {
	return &Future{ID: id, submitted: make(chan struct{}), done: make(chan struct{})}
}

// Done is closed when Result will return without blocking.
func (f *Future) Done() <-chan struct{} { return f.done }

// Submitted waits until the queue has stored the task (nil) or refused it.
func (f *Future) Submitted(ctx context.Context) error {
	select {
	case <-f.submitted:
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.subErr
	case <-ctx.Done():
		return fmt.Errorf("task %s: waiting for the queue to store it: %w", f.ID, ctx.Err())
	}
}

// Result waits for the task's result record. A task that ended failed
// returns its record and an error wrapping ErrTaskFailed; a submission the
// queue refused returns that refusal.
func (f *Future) Result(ctx context.Context) (task.Result, error) {
	select {
	case <-f.done:
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.res, f.err
	case <-ctx.Done():
		return task.Result{}, fmt.Errorf("task %s: waiting for its result: %w", f.ID, ctx.Err())
	}
}

// ack marks the submission stored (err nil) or refused.
func (f *Future) ack(err error) {
	f.mu.Lock()
	f.subErr = err
	f.mu.Unlock()
	close(f.submitted)
	if err != nil {
		f.finish(task.Result{}, err)
	}
}

// finish resolves the future once; later calls do nothing.
func (f *Future) finish(r task.Result, err error) {
	f.mu.Lock()
	select {
	case <-f.done:
		f.mu.Unlock()
		return
	default:
	}
	if err == nil && r.State == task.StateFailed {
		err = fmt.Errorf("%w: %s after %d attempts: %s", ErrTaskFailed, f.ID, r.Attempts, r.Error)
	}
	f.res, f.err = r, err
	subs := f.subs
	f.subs = nil
	close(f.done)
	f.mu.Unlock()
	for _, ch := range subs {
		ch <- f
	}
}

// notify sends f on ch once it is done (at once if it already is). ch must
// have room for every future it subscribes to.
func (f *Future) notify(ch chan<- *Future) {
	f.mu.Lock()
	select {
	case <-f.done:
		f.mu.Unlock()
		ch <- f
		return
	default:
	}
	f.subs = append(f.subs, ch)
	f.mu.Unlock()
}
