package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"time"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// Options tune an Executor; zero values take the defaults named.
type Options struct {
	// BatchSize is the most tasks one Queue.Submit carries. Default 1000.
	BatchSize int
	// Linger is how long a partial batch waits for more. Default 20ms.
	Linger time.Duration
	// PollEvery is the results polling interval for queues that cannot
	// hold a request open. Default 1s.
	PollEvery time.Duration
	// From is where the results follower starts; default the beginning,
	// so results that arrived before this Executor existed resolve too.
	From upstream.Cursor
	// Logger receives outages and retries. Default slog.Default().
	Logger *slog.Logger
}

// Executor submits tasks to a queue and resolves their futures from its
// results stream. Its methods are safe for concurrent use.
type Executor struct {
	q    upstream.Queue
	opts Options
	log  *slog.Logger

	in     chan submission
	ctx    context.Context // ends at Close: stops retries and the follower
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	waiting map[string][]*Future
	seen    map[string]upstream.Cursor // id -> cursor of the page its result is on
	closed  bool
}

// submission is one Submit, or a Flush marker (flushed set).
type submission struct {
	spec    task.Spec
	f       *Future
	flushed chan struct{}
}

// New starts an Executor over q. Close it to send what is buffered and to
// stop its goroutines.
func New(q upstream.Queue, opts Options) *Executor {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	if opts.Linger <= 0 {
		opts.Linger = 20 * time.Millisecond
	}
	if opts.PollEvery <= 0 {
		opts.PollEvery = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	e := &Executor{q: q, opts: opts, log: opts.Logger, in: make(chan submission, opts.BatchSize),
		waiting: map[string][]*Future{}, seen: map[string]upstream.Cursor{}}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.wg.Add(2)
	go e.batcher()
	go e.follow()
	return e
}

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("executor closed")

// Submit validates spec and hands it to the batcher; it returns at once
// with the task's Future (blocking only while the batcher is BatchSize
// behind). A spec that fails validation is an error here; a refusal by the
// queue arrives through the Future.
func (e *Executor) Submit(ctx context.Context, spec task.Spec) (*Future, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	f := newFuture(spec.ID)
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	page, finished := e.seen[spec.ID]
	if !finished {
		e.waiting[spec.ID] = append(e.waiting[spec.ID], f)
	}
	e.mu.Unlock()
	if finished {
		go e.resolveFrom(f, page)
	}
	select {
	case e.in <- submission{spec: spec, f: f}:
		return f, nil
	case <-ctx.Done():
		e.forget(f)
		return nil, ctx.Err()
	case <-e.ctx.Done():
		e.forget(f)
		return nil, ErrClosed
	}
}

// Map submits every spec, waits until the queue has stored them all, and
// returns their futures in order. The error is the first refusal, if any;
// the futures of refused tasks carry their own.
func (e *Executor) Map(ctx context.Context, specs []task.Spec) ([]*Future, error) {
	fs := make([]*Future, 0, len(specs))
	for _, s := range specs {
		f, err := e.Submit(ctx, s)
		if err != nil {
			return fs, fmt.Errorf("task %d (%s): %w", len(fs), s.ID, err)
		}
		fs = append(fs, f)
	}
	if err := e.Flush(ctx); err != nil {
		return fs, err
	}
	for _, f := range fs {
		if err := f.Submitted(ctx); err != nil {
			return fs, err
		}
	}
	return fs, nil
}

// AsCompleted yields the futures as they complete, in that order, until
// all have or ctx ends.
func (e *Executor) AsCompleted(ctx context.Context, fs []*Future) iter.Seq[*Future] {
	return func(yield func(*Future) bool) {
		ch := make(chan *Future, len(fs))
		for _, f := range fs {
			f.notify(ch)
		}
		for range fs {
			select {
			case f := <-ch:
				if !yield(f) {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}
}

// Flush waits until every task submitted before it is stored (or refused).
func (e *Executor) Flush(ctx context.Context) error {
	m := submission{flushed: make(chan struct{})}
	select {
	case e.in <- m:
	case <-ctx.Done():
		return ctx.Err()
	case <-e.ctx.Done():
		return ErrClosed
	}
	select {
	case <-m.flushed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close sends what is buffered (until ctx ends), then stops the batcher and
// the follower. Futures not yet resolved stay unresolved; their tasks are
// in the queue and their results will be in its results stream.
func (e *Executor) Close(ctx context.Context) error {
	err := e.Flush(ctx)
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

func (e *Executor) forget(f *Future) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fs := e.waiting[f.ID]
	for i, g := range fs {
		if g == f {
			fs = append(fs[:i], fs[i+1:]...)
			break
		}
	}
	if len(fs) == 0 {
		delete(e.waiting, f.ID)
	} else {
		e.waiting[f.ID] = fs
	}
}
