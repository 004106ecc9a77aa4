package pilot

import (
	"context"
	"sync"
	"time"

	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// countedQueue is the leader's upstream with every answer counted: errors
// by operation, results accepted (and their core-seconds, for throughput),
// refused and duplicate. It only forwards.
type countedQueue struct {
	upstream.Queue
	o *observer
}

// claimingQueue is a countedQueue whose upstream takes a claim (the file
// queue): the leader claims the campaign when it takes over.
type claimingQueue struct {
	countedQueue
	claim interface{ Claim() (uint64, error) }
}

func (q claimingQueue) Claim() (uint64, error) {
	e, err := q.claim.Claim()
	q.o.upstreamErr("claim", err)
	return e, err
}

// wrapQueue counts a queue's answers, keeping its Claim when it has one.
func (o *observer) wrapQueue(q upstream.Queue) upstream.Queue {
	cq := countedQueue{Queue: q, o: o}
	if c, ok := q.(interface{ Claim() (uint64, error) }); ok {
		return claimingQueue{countedQueue: cq, claim: c}
	}
	return cq
}

func (o *observer) upstreamErr(op string, err error) {
	if err != nil {
		o.m.upstreamErrors.WithLabelValues(op).Inc()
	}
}

func (q countedQueue) Lease(ctx context.Context, req upstream.LeaseRequest) ([]upstream.Leased, error) {
	l, err := q.Queue.Lease(ctx, req)
	q.o.upstreamErr("lease", err)
	return l, err
}

func (q countedQueue) Renew(ctx context.Context, cluster string, ids []string, ttl time.Duration) ([]string, error) {
	lost, err := q.Queue.Renew(ctx, cluster, ids, ttl)
	q.o.upstreamErr("renew", err)
	return lost, err
}

func (q countedQueue) Release(ctx context.Context, cluster string, ids []string) error {
	err := q.Queue.Release(ctx, cluster, ids)
	q.o.upstreamErr("release", err)
	return err
}

func (q countedQueue) Complete(ctx context.Context, cluster string, results []task.Result) (upstream.CompleteReport, error) {
	rep, err := q.Queue.Complete(ctx, cluster, results)
	q.o.upstreamErr("complete", err)
	if err != nil {
		return rep, err
	}
	not := make(map[string]bool, len(rep.Duplicates)+len(rep.Refused))
	for _, id := range rep.Duplicates {
		not[id] = true
	}
	for _, id := range rep.Refused {
		not[id] = true
	}
	var tasks int
	var coreS float64
	for _, r := range results {
		if not[r.ID] {
			continue
		}
		q.o.m.resultsWritten.WithLabelValues(r.State).Inc()
		tasks++
		coreS += r.CoreS
	}
	q.o.m.duplicates.Add(float64(len(rep.Duplicates)))
	q.o.m.resultsRefused.Add(float64(len(rep.Refused)))
	if len(rep.Refused) > 0 {
		q.o.recordRefused(cluster, results, rep.Refused)
	}
	q.o.rate.written(tasks, coreS)
	return rep, nil
}

// gatedDispatcher is the leader's Dispatcher with two additions: failures
// are counted, and a flush can close the gate. While the gate is closed no
// work is sent; once open, work whose attempt the ledger no longer holds
// as assigned (the flush dropped it) is not sent at all, so nothing a flush
// dropped starts after it.
type gatedDispatcher struct {
	coordinator.Dispatcher
	o    *observer
	gate sync.RWMutex
}

func (d *gatedDispatcher) Dispatch(ctx context.Context, node ledger.Node, work []coordinator.Work) ([]ledger.AttemptRef, error) {
	d.gate.RLock()
	defer d.gate.RUnlock()
	v := d.o.a.raft.Ledger().View()
	live := work[:0:0]
	for _, w := range work {
		if t, ok := v.Task(w.Spec.ID); ok && t.State == ledger.Assigned && t.Attempt == w.Attempt && t.Node == node.ID {
			live = append(live, w)
		}
	}
	if len(live) == 0 {
		return nil, nil
	}
	refused, err := d.Dispatcher.Dispatch(ctx, node, live)
	if err != nil || len(refused) > 0 {
		d.o.m.dispatchFailures.Inc()
	}
	return refused, err
}
