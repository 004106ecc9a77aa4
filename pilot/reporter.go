package pilot

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/pilot/rpc"
)

// reporter carries this node's reports to the leader. add never blocks; a
// loop sends everything pending as one batch, and on failure (no leader, an
// election, a partition) keeps it and tries again with backoff, so a result
// is never dropped while the agent lives. confirm blocks until the leader
// has applied its report: an attempt's Started goes that way before its
// process starts. Every heartbeat interval it also sends the list of
// attempts the node runs, and cancels what the leader says it should not run.
//
// A batch nobody waits on lingers up to reportLinger for company, unless
// it is already large or nothing covers the delay: a short task's Complete
// then travels with its Started, and a node of short tasks sends a few
// tasks' reports per RPC and log entry instead of one. Lingering is free
// only while attempts wait for cores here (covered): the node's backlog
// keeps its cores busy meanwhile. Without one (a campaign's first tasks,
// before the leader knows they are short; its last ones; long tasks) a
// free core waits for the leader's next placement, so the batch goes at
// once and the leader's round trip is not 10 ms longer.
type reporter struct {
	node string
	// send delivers a batch. It must not keep req once it returns: the
	// array of req.Reports takes later reports.
	send      func(ctx context.Context, req *rpc.ReportRequest) (rpc.ReportReply, error)
	running   func() []rpc.TaskRef
	cancel    func([]rpc.TaskRef)
	heartbeat time.Duration
	log       *slog.Logger
	// covered says whether attempts wait for cores on this node, so a
	// lingering batch delays no start; nil: always.
	covered func() bool

	mu      sync.Mutex
	pending []rpc.Report
	// spare is the cleared array of the last batch delivered; pending
	// takes it when it starts again, so reports on the way reuse two arrays.
	spare []rpc.Report
	// added counts the reports ever added; the first delivered of them the
	// leader has applied. Batches go in order and a failed one goes back in
	// front, so the delivered ones are always the first ones.
	added, delivered uint64
	confirming       int // confirm calls waiting: no lingering then
	wake             chan struct{}
	changed          *sync.Cond // signalled after every flush
}

func newReporter(node string, heartbeat time.Duration, log *slog.Logger) *reporter {
	r := &reporter{node: node, heartbeat: heartbeat, log: log, wake: make(chan struct{}, 1)}
	r.changed = sync.NewCond(&r.mu)
	return r
}

func (r *reporter) add(rep coordinator.Report) {
	r.push(rep)
}

// confirm sends a report and returns once the leader has applied it, or
// with ctx's error. A report whose wait ends early is still sent.
func (r *reporter) confirm(ctx context.Context, rep coordinator.Report) error {
	r.mu.Lock()
	r.confirming++
	r.mu.Unlock()
	seq := r.push(rep)
	stop := context.AfterFunc(ctx, r.broadcast)
	defer stop()
	r.mu.Lock()
	defer func() {
		r.confirming--
		r.mu.Unlock()
	}()
	for r.delivered < seq {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		r.changed.Wait()
	}
	return nil
}

// push queues a report, wakes the loop when it has something new to do
// (a first report to linger with, a full batch, a confirm waiting, a
// batch nothing covers any more) and returns the report's number. A
// report that joins a covered lingering batch wakes nobody: the linger's
// timer sends it.
func (r *reporter) push(rep coordinator.Report) uint64 {
	r.mu.Lock()
	if r.pending == nil {
		r.pending, r.spare = r.spare, nil
	}
	r.pending = append(r.pending, toRPCReport(rep))
	r.added++
	seq := r.added
	wake := len(r.pending) == 1 || len(r.pending) >= lingerBatch || r.confirming > 0
	r.mu.Unlock()
	if wake || !r.isCovered() {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return seq
}

func (r *reporter) broadcast() {
	r.mu.Lock()
	r.changed.Broadcast()
	r.mu.Unlock()
}

// run sends until ctx ends.
func (r *reporter) run(ctx context.Context) {
	beat := time.NewTicker(r.heartbeat)
	defer beat.Stop()
	backoff := time.Duration(0)
	for {
		heartbeat := false
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
			r.linger(ctx)
		case <-beat.C:
			heartbeat = true
		}
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
		if err := r.flush(ctx, heartbeat); err != nil {
			backoff = min(max(2*backoff, 50*time.Millisecond), 2*time.Second)
			r.log.Debug("report to the leader", "err", err, "retry_in", backoff)
			select {
			case r.wake <- struct{}{}:
			default:
			}
			continue
		}
		backoff = 0
	}
}

// reportLinger is how long reports wait for company; lingerBatch is the
// batch that is sent at once.
const (
	reportLinger = 10 * time.Millisecond
	lingerBatch  = 64
)

// linger returns once reportLinger has passed, lingerBatch reports are
// pending, a confirm waits, or ctx ends.
func (r *reporter) linger(ctx context.Context) {
	if !r.lingering() {
		return
	}
	t := time.NewTimer(reportLinger)
	defer t.Stop()
	for r.lingering() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case <-r.wake:
		}
	}
}

// lingering: something is pending, less than lingerBatch of it, no
// confirm waits, and attempts waiting for cores cover the delay.
func (r *reporter) lingering() bool {
	r.mu.Lock()
	small := r.confirming == 0 && len(r.pending) > 0 && len(r.pending) < lingerBatch
	r.mu.Unlock()
	return small && r.isCovered()
}

// isCovered calls covered without r.mu held: it takes the core queue's lock.
func (r *reporter) isCovered() bool {
	return r.covered == nil || r.covered()
}

// flush sends what is pending (and a heartbeat when asked).
func (r *reporter) flush(ctx context.Context, heartbeat bool) error {
	r.mu.Lock()
	batch, upto := r.pending, r.added
	r.pending = nil
	r.mu.Unlock()
	if len(batch) == 0 && !heartbeat {
		r.broadcast()
		return nil
	}
	req := &rpc.ReportRequest{Node: r.node, Reports: batch}
	if heartbeat {
		req.Heartbeat, req.Running, req.SentAt = true, r.running(), time.Now().UnixMilli()
	}
	// A leader that stopped (SIGSTOP, a hung node) accepts the connection
	// and never answers: give up after a few heartbeats and ask who leads
	// now, or every result waits for the stopped one.
	cctx, cancel := context.WithTimeout(ctx, max(3*r.heartbeat, 2*time.Second))
	reply, err := r.send(cctx, req)
	cancel()
	if err != nil {
		r.mu.Lock()
		r.pending = append(batch, r.pending...)
		r.mu.Unlock()
		return err
	}
	clear(batch) // the spare holds on to no result
	r.mu.Lock()
	r.spare = batch[:0]
	r.delivered = max(r.delivered, upto)
	r.changed.Broadcast()
	r.mu.Unlock()
	if len(reply.Cancel) > 0 {
		r.cancel(reply.Cancel)
	}
	return nil
}

// waitIdle blocks until nothing is pending or ctx ends.
func (r *reporter) waitIdle(ctx context.Context) error {
	stop := context.AfterFunc(ctx, r.broadcast)
	defer stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.pending) > 0 {
		if ctx.Err() != nil {
			return errors.New("reports still pending: " + ctx.Err().Error())
		}
		r.changed.Wait()
	}
	return nil
}
