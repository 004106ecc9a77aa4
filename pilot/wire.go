package pilot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/pilot/rpc"
)

// This file turns the agent RPC into calls on the executor (on every node)
// and on the leader loop (on the leader), and the leader's Dispatcher into
// RPC calls. It only translates: no rule lives here.

// handler serves the agent RPC of this node.
func (a *agent) handler() rpc.Handler {
	return rpc.Handler{
		Assign: func(_ context.Context, req *rpc.AssignRequest) (rpc.AssignReply, error) {
			work := make([]coordinator.Work, len(req.Tasks))
			for i, t := range req.Tasks {
				work[i] = coordinator.Work{Spec: t.Spec, Attempt: t.Attempt}
			}
			var reply rpc.AssignReply
			for _, r := range a.exec.Accept(work) {
				err := r.err
				switch {
				case errors.Is(err, ledger.ErrDraining):
					err = fmt.Errorf("%w: %v", rpc.ErrDraining, err)
				case errors.Is(err, ErrNoCores):
					err = fmt.Errorf("%w: %v", rpc.ErrNoCapacity, err)
				}
				reply.Refused = append(reply.Refused, rpc.Refusal{TaskID: r.ref.Task, Attempt: r.ref.Attempt, Err: err})
			}
			return reply, nil
		},
		Cancel: func(_ context.Context, req *rpc.CancelRequest) error {
			a.exec.Cancel(fromRefs(req.Tasks))
			return nil
		},
		Report: func(ctx context.Context, req *rpc.ReportRequest) (rpc.ReportReply, error) {
			l := a.leading()
			if l == nil {
				return rpc.ReportReply{}, rpc.NotLeader(a.leaderRPCAddr())
			}
			reports := make([]coordinator.Report, len(req.Reports))
			for i, r := range req.Reports {
				reports[i] = fromRPCReport(r)
			}
			if err := l.Report(ctx, reports); err != nil {
				return rpc.ReportReply{}, a.wireError(err)
			}
			var reply rpc.ReportReply
			if req.Heartbeat {
				cancel, err := l.Heartbeat(ctx, req.Node, fromRefs(req.Running), time.UnixMilli(req.SentAt))
				if err != nil {
					return rpc.ReportReply{}, a.wireError(err)
				}
				reply.Cancel = toRefs(cancel)
			}
			return reply, nil
		},
	}
}

// wireError keeps a not-leader error's meaning across the wire.
func (a *agent) wireError(err error) error {
	if errors.Is(err, coordinator.ErrNotLeader) {
		return rpc.NotLeader(a.leaderRPCAddr())
	}
	return err
}

func fromRPCReport(r rpc.Report) coordinator.Report {
	out := coordinator.Report{Task: r.TaskID, Attempt: r.Attempt, Result: r.Result, Error: r.Result.Error}
	switch r.Kind {
	case rpc.ReportStarted:
		out.Kind = coordinator.ReportStarted
	case rpc.ReportCompleted:
		out.Kind = coordinator.ReportCompleted
	case rpc.ReportFailed:
		out.Kind = coordinator.ReportFailed
		out.Class = ledger.FailClass(r.Class)
	}
	return out
}

func toRPCReport(r coordinator.Report) rpc.Report {
	out := rpc.Report{TaskID: r.Task, Attempt: r.Attempt, At: time.Now().UnixMilli(), Result: r.Result}
	switch r.Kind {
	case coordinator.ReportStarted:
		out.Kind = rpc.ReportStarted
	case coordinator.ReportCompleted:
		out.Kind = rpc.ReportCompleted
	case coordinator.ReportFailed:
		out.Kind = rpc.ReportFailed
		out.Class = string(r.Class)
		out.Infra = r.Class == ledger.FailInfra
		if out.Result.Error == "" {
			out.Result.Error = r.Error
		}
	}
	return out
}

func fromRefs(refs []rpc.TaskRef) []ledger.AttemptRef {
	out := make([]ledger.AttemptRef, len(refs))
	for i, r := range refs {
		out[i] = ledger.AttemptRef{Task: r.ID, Attempt: r.Attempt}
	}
	return out
}

func toRefs(refs []ledger.AttemptRef) []rpc.TaskRef {
	out := make([]rpc.TaskRef, len(refs))
	for i, r := range refs {
		out[i] = rpc.TaskRef{ID: r.Task, Attempt: r.Attempt}
	}
	return out
}

// dispatcher is the leader's coordinator.Dispatcher over the agent RPC,
// with one client per node address.
type dispatcher struct {
	self string
	key  []byte
	mu   sync.Mutex
	cl   map[string]*rpc.Client
}

func (d *dispatcher) client(addr string) *rpc.Client {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.cl[addr]
	if !ok {
		c = rpc.NewClient(addr, d.key)
		d.cl[addr] = c
	}
	return c
}

func (d *dispatcher) Dispatch(ctx context.Context, node ledger.Node, work []coordinator.Work) ([]ledger.AttemptRef, error) {
	req := &rpc.AssignRequest{Leader: d.self, Tasks: make([]rpc.Assignment, len(work))}
	for i, w := range work {
		req.Tasks[i] = rpc.Assignment{Spec: w.Spec, Attempt: w.Attempt, Cores: w.Spec.Cores}
	}
	reply, err := d.client(node.Addr).Assign(ctx, req)
	if err != nil {
		return nil, err
	}
	var refused []ledger.AttemptRef
	for _, r := range reply.Refused {
		refused = append(refused, ledger.AttemptRef{Task: r.TaskID, Attempt: r.Attempt})
	}
	return refused, nil
}

func (d *dispatcher) Cancel(ctx context.Context, node ledger.Node, attempts []ledger.AttemptRef) error {
	return d.client(node.Addr).Cancel(ctx, &rpc.CancelRequest{Tasks: toRefs(attempts)})
}

func (d *dispatcher) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.cl {
		c.Close()
	}
}
