package coordinator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/coordinator/sched"
	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// Bounds of one log entry: a window is ingested in chunks so no entry
// grows past a few megabytes (inputs are up to 64 KiB each).
const (
	ingestChunkTasks = 512
	ingestChunkBytes = 4 << 20
	ackChunk         = 2048
	maxBackoff       = 60 * time.Second
)

// pull leases a window of tasks from upstream and ingests it. The window
// is sized to the cluster: queued tasks may need up to WindowFactor times
// the cores of the nodes that take work (and their backlogs' room while
// short tasks fill backlogs), never the whole backlog (promise 6). Tasks
// the last plan left that cannot use the room there is (sched.Plan.Unfit)
// do not count, up to one more window (sched.LeaseRoom, the simulator's
// rule too): near the end of the pilots long tasks would otherwise fill
// the window and no short task would come to fill the idle cores, and a
// window of wide tasks would leave the gaps of narrow ones idle.
func (l *Leader) pull(ctx context.Context) error {
	if !l.upstreamReady() {
		return nil
	}
	l.mu.Lock()
	backlogs, walltime := l.backlogging, l.walltimeCores
	l.mu.Unlock()
	v := l.node.Ledger().View()
	cores := 0
	for _, n := range v.Nodes() {
		if !n.Draining {
			cores += n.Cores
			if backlogs {
				cores += n.Prefetch
			}
		}
	}
	if cores == 0 {
		return nil // no node to run anything: leave the work upstream
	}
	queuedCores := 0
	v.WalkQueued(func(t *ledger.Task) bool {
		queuedCores += t.Spec.Cores
		return false
	})
	window := int(float64(cores) * l.cfg.WindowFactor)
	want := sched.LeaseRoom(window, queuedCores, walltime)
	// Lease in large bites: each lease costs upstream a durable write and
	// the ledger an Ingest entry, so wait until half the window is free
	// (a queue run dry always leases).
	if want <= 0 || (queuedCores > 0 && want < window/2) {
		return nil
	}
	maxCores := want
	if queuedCores == 0 {
		// A queue run dry leases with no core limit: a task wider than
		// the whole window would otherwise stay pending upstream forever,
		// never reaching Place to be failed as unschedulable (promise 8).
		maxCores = 0
	}
	leased, err := l.cfg.Queue.Lease(ctx, upstream.LeaseRequest{
		Cluster: l.cfg.Cluster, MaxTasks: want, MaxCores: maxCores, TTL: l.cfg.LeaseTTL,
	})
	if l.upstreamAnswered(err) != nil {
		return fmt.Errorf("lease from upstream: %w", err)
	}
	l.mu.Lock()
	l.drained = len(leased) == 0
	l.mu.Unlock()
	if len(leased) == 0 {
		return nil
	}
	for len(leased) > 0 {
		n, size := 0, 0
		for n < len(leased) && n < ingestChunkTasks && size < ingestChunkBytes {
			size += len(leased[n].Spec.Input) + 256
			n++
		}
		chunk := make([]ledger.Leased, n)
		for i, t := range leased[:n] {
			chunk[i] = ledger.Leased{Spec: t.Spec, Lease: t.Lease}
		}
		if _, err := l.propose(ctx, ledger.Ingest{At: l.now(), Tasks: chunk}); err != nil {
			l.release(leased)
			return fmt.Errorf("ingest %d leased tasks: %w", len(leased), err)
		}
		leased = leased[n:]
	}
	kick(l.kickPlace)
	return nil
}

// release hands leased tasks back when they could not be ingested, so they
// need not wait for their lease to expire. Best effort: expiry is the net.
func (l *Leader) release(leased []upstream.Leased) {
	ids := make([]string, len(leased))
	for i, t := range leased {
		ids[i] = t.Spec.ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.cfg.Queue.Release(ctx, l.cfg.Cluster, ids); err != nil {
		l.log.Warn("could not release leases; they return upstream when they expire", "tasks", len(ids), "err", err)
	}
}

// ack writes the results of final tasks upstream, then commits Acked so
// they leave the ledger. Upstream accepts a result once, so a leader that
// dies between the two steps only makes its successor send it again.
func (l *Leader) ack(ctx context.Context) error {
	v := l.node.Ledger().View()
	c := v.Counts()
	n := min(c.Done+c.Failed, ackChunk) // the results this round may write
	if n == 0 {
		return nil
	}
	// Write results in batches: each write costs upstream a durable
	// append and the ledger an Acked entry. A result waits at most one
	// Interval in the ledger (it is committed there already), and none
	// once no other task is live: the last results of a campaign are
	// written at once (a run ended up to an Interval late).
	l.mu.Lock()
	early := n < ackChunk/8 && l.cfg.Now().Sub(l.ackedAt) < l.cfg.Interval && c.Queued+c.Assigned+c.Running > 0
	l.mu.Unlock()
	if early || !l.upstreamReady() {
		return nil
	}
	// Copied only now they go: a round runs on every report, and most
	// rounds wait for more results.
	results := make([]task.Result, 0, n)
	ids := make([]string, 0, n)
	for _, s := range []ledger.State{ledger.Done, ledger.Failed} {
		v.Walk(s, func(t *ledger.Task) bool {
			if len(results) == n {
				return true
			}
			results = append(results, *t.Result)
			ids = append(ids, t.Spec.ID)
			return false
		})
	}
	rep, err := l.cfg.Queue.Complete(ctx, l.cfg.Cluster, results)
	if l.upstreamAnswered(err) != nil {
		return fmt.Errorf("write %d results upstream: %w", len(results), err)
	}
	if len(rep.Duplicates) > 0 || len(rep.Refused) > 0 {
		l.log.Info("upstream already had some results", "duplicates", len(rep.Duplicates), "refused", len(rep.Refused))
	}
	l.mu.Lock()
	l.ackedAt = l.cfg.Now()
	l.mu.Unlock()
	if _, err := l.propose(ctx, ledger.Acked{At: l.now(), Tasks: ids}); err != nil {
		return fmt.Errorf("ack %d results: %w", len(ids), err)
	}
	if len(ids) == ackChunk {
		kick(l.kickUpstream) // more results wait
	}
	return nil
}

// renew extends the leases of every task the ledger holds, every third of
// the lease's time to live. A lease upstream no longer grants is logged:
// another cluster may run that task, and upstream keeps whichever result
// comes first.
func (l *Leader) renew(ctx context.Context) error {
	l.mu.Lock()
	due := l.cfg.Now().Sub(l.renewedAt) >= l.cfg.LeaseTTL/3
	l.mu.Unlock()
	if !due || !l.upstreamReady() {
		return nil
	}
	v := l.node.Ledger().View()
	var ids []string
	for _, s := range []ledger.State{ledger.Queued, ledger.Assigned, ledger.Running} {
		v.Walk(s, func(t *ledger.Task) bool {
			ids = append(ids, t.Spec.ID)
			return false
		})
	}
	if len(ids) > 0 {
		lost, err := l.cfg.Queue.Renew(ctx, l.cfg.Cluster, ids, l.cfg.LeaseTTL)
		if l.upstreamAnswered(err) != nil {
			return fmt.Errorf("renew %d leases: %w", len(ids), err)
		}
		if len(lost) > 0 {
			l.log.Warn("upstream no longer leases some tasks to this cluster", "tasks", len(lost), "first", lost[0])
		}
	}
	l.mu.Lock()
	l.renewedAt = l.cfg.Now()
	l.mu.Unlock()
	return nil
}

// upstreamReady says whether the backoff after an outage has passed.
func (l *Leader) upstreamReady() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.cfg.Now().Before(l.upRetryAt)
}

// upstreamAnswered records how upstream answered and returns err. An outage
// backs off exponentially with jitter, capped at a minute; running tasks
// carry on meanwhile, and nothing leased is dropped.
func (l *Leader) upstreamAnswered(err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.upErr = err
	if err == nil {
		l.upBackoff = 0
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	switch {
	case l.upBackoff == 0:
		l.upBackoff = l.cfg.Interval
	case l.upBackoff < maxBackoff:
		l.upBackoff *= 2
	}
	if l.upBackoff > maxBackoff {
		l.upBackoff = maxBackoff
	}
	jitter := time.Duration(rand.Int64N(int64(l.upBackoff)/2 + 1))
	l.upRetryAt = l.cfg.Now().Add(l.upBackoff/2 + jitter)
	return err
}

// Drained says whether the last lease found upstream empty.
func (l *Leader) Drained() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.drained
}
