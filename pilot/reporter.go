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

// reporter carries this node's reports to the leader. add never blocks (the
// runner calls it from a task's start); a loop sends everything pending as
// one batch, and on failure (no leader, an election, a partition) keeps it
// and tries again with backoff, so a result is never dropped while the
// agent lives. Every heartbeat interval it also sends the list of attempts
// the node runs, and cancels what the leader says it should not run.
//
// A batch of nothing but Started reports waits up to startedLinger for
// more: a short task's Complete then travels with its Started, in one RPC
// and one log entry (on `true` tasks this halves the entries per task).
type reporter struct {
	node      string
	send      func(ctx context.Context, req *rpc.ReportRequest) (rpc.ReportReply, error)
	running   func() []rpc.TaskRef
	cancel    func([]rpc.TaskRef)
	heartbeat time.Duration
	log       *slog.Logger

	mu      sync.Mutex
	pending []rpc.Report
	wake    chan struct{}
	idle    *sync.Cond // signalled when pending empties
}

func newReporter(node string, heartbeat time.Duration, log *slog.Logger) *reporter {
	r := &reporter{node: node, heartbeat: heartbeat, log: log, wake: make(chan struct{}, 1)}
	r.idle = sync.NewCond(&r.mu)
	return r
}

func (r *reporter) add(rep coordinator.Report) {
	r.mu.Lock()
	r.pending = append(r.pending, toRPCReport(rep))
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
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

// startedLinger is how long Started reports alone wait for company. It
// delays only the news that a task started, never a result.
const startedLinger = 20 * time.Millisecond

// linger returns once something other than a Started report is pending,
// startedLinger has passed, or ctx ends.
func (r *reporter) linger(ctx context.Context) {
	if !r.onlyStarted() {
		return
	}
	t := time.NewTimer(startedLinger)
	defer t.Stop()
	for r.onlyStarted() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case <-r.wake:
		}
	}
}

// onlyStarted: something is pending and all of it is Started reports.
func (r *reporter) onlyStarted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rep := range r.pending {
		if rep.Kind != rpc.ReportStarted {
			return false
		}
	}
	return len(r.pending) > 0
}

// flush sends what is pending (and a heartbeat when asked).
func (r *reporter) flush(ctx context.Context, heartbeat bool) error {
	r.mu.Lock()
	batch := r.pending
	r.pending = nil
	r.mu.Unlock()
	if len(batch) == 0 && !heartbeat {
		r.signalIdle()
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
	if len(reply.Cancel) > 0 {
		r.cancel(reply.Cancel)
	}
	r.signalIdle()
	return nil
}

func (r *reporter) signalIdle() {
	r.mu.Lock()
	if len(r.pending) == 0 {
		r.idle.Broadcast()
	}
	r.mu.Unlock()
}

// waitIdle blocks until nothing is pending or ctx ends.
func (r *reporter) waitIdle(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.idle.Broadcast()
		r.mu.Unlock()
	})
	defer stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.pending) > 0 {
		if ctx.Err() != nil {
			return errors.New("reports still pending: " + ctx.Err().Error())
		}
		r.idle.Wait()
	}
	return nil
}
