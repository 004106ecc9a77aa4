package pilot

import (
	"context"
	"errors"
	"sort"
	"sync"
)

// coreQueue hands a node's cores to the attempts that wait for them in the
// order the leader sent them (its plan's order: long tasks first), each
// taking its cores the moment they are free, a later attempt that fits
// going ahead of an earlier one that does not (greedy list scheduling). A
// broadcast to every waiter would start them in whatever order the
// goroutines woke.
type coreQueue struct {
	cores *Cores

	mu      sync.Mutex
	waiting []*coreWaiter // by seq
}

type coreWaiter struct {
	owner string
	seq   uint64
	k     int
	ready chan coreGrant // buffered: the grant never blocks
}

type coreGrant struct {
	alloc Allocation
	err   error
}

// acquire waits until the owner holds k cores, or ctx ends. seq is the
// owner's place in the order (smaller goes first).
func (q *coreQueue) acquire(ctx context.Context, owner string, seq uint64, k int) (Allocation, error) {
	w := &coreWaiter{owner: owner, seq: seq, k: k, ready: make(chan coreGrant, 1)}
	q.mu.Lock()
	i := sort.Search(len(q.waiting), func(i int) bool { return q.waiting[i].seq > seq })
	q.waiting = append(q.waiting, nil)
	copy(q.waiting[i+1:], q.waiting[i:])
	q.waiting[i] = w
	q.grantLocked()
	q.mu.Unlock()
	select {
	case g := <-w.ready:
		return g.alloc, g.err
	case <-ctx.Done():
	}
	q.mu.Lock()
	for i, o := range q.waiting {
		if o == w {
			q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
			break
		}
	}
	q.mu.Unlock()
	select {
	case g := <-w.ready: // granted as ctx ended: give the cores back
		if g.err == nil {
			q.release(owner)
		}
	default:
	}
	return Allocation{}, context.Cause(ctx)
}

// hasWaiting says whether an attempt waits for cores.
func (q *coreQueue) hasWaiting() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting) > 0
}

// release gives the owner's cores back and grants them on; it says
// whether the owner held any.
func (q *coreQueue) release(owner string) bool {
	if !q.cores.Release(owner) {
		return false
	}
	q.mu.Lock()
	q.grantLocked()
	q.mu.Unlock()
	return true
}

// grantLocked gives free cores to the waiters in order, each that fits.
func (q *coreQueue) grantLocked() {
	kept := q.waiting[:0]
	free := q.cores.Free()
	for _, w := range q.waiting {
		if w.k > free { // not asked: a refusal costs an error value each
			kept = append(kept, w)
			continue
		}
		alloc, err := q.cores.Alloc(w.owner, w.k)
		if errors.Is(err, ErrNoCores) {
			kept = append(kept, w)
			continue
		}
		free = q.cores.Free()
		w.ready <- coreGrant{alloc, err}
	}
	clear(q.waiting[len(kept):])
	q.waiting = kept
}
