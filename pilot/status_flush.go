package pilot

import (
	"context"
	"fmt"
	"time"

	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
)

// FlushRequest is the body of POST /flush.
type FlushRequest struct {
	// CancelRunning drops running tasks too and stops their attempts;
	// without it they finish and upstream refuses their results.
	CancelRunning bool `json:"cancel_running"`
}

// ClusterFlush is what a flush of the ledger did.
type ClusterFlush struct {
	Leader    string   `json:"leader"`
	Index     uint64   `json:"index"`     // the Raft index of the Flush
	Dropped   int      `json:"dropped"`   // tasks removed from the ledger
	Cancelled int      `json:"cancelled"` // attempts asked to stop on their nodes
	Errors    []string `json:"errors,omitempty"`
}

// flush commits ledger.Flush and stops the attempts of the dropped tasks
// on their nodes. The dispatcher's gate is closed meanwhile: a dispatch
// in flight finishes first (its attempt is then cancelled here), and work
// the leader placed but had not sent yet is never sent. So no attempt of a
// dropped task starts after flush returns. Nodes that cannot be reached
// cancel the attempts on their next heartbeat, which the leader answers
// with every attempt the ledger no longer holds.
func (o *observer) flush(ctx context.Context, cancelRunning bool) (ClusterFlush, error) {
	rep := ClusterFlush{Leader: o.a.cfg.Name}
	l := o.a.leading()
	if l == nil {
		id, addr := o.a.raft.Leader()
		return rep, &coordinator.NotLeaderError{LeaderID: id, LeaderAddr: addr}
	}
	o.disp.gate.Lock()
	defer o.disp.gate.Unlock()
	before := o.a.raft.Ledger().View()
	out, err := o.a.raft.Propose(ctx, ledger.Flush{At: time.Now().UnixNano(), Running: cancelRunning})
	if err != nil {
		return rep, fmt.Errorf("commit the flush: %w", err)
	}
	o.m.flushes.Inc()
	rep.Index, rep.Dropped = out.Index, len(out.Dropped)
	perNode := map[string][]ledger.AttemptRef{}
	var order []string
	for _, id := range out.Dropped {
		t, ok := before.Task(id)
		if !ok || t.Node == "" {
			continue
		}
		if perNode[t.Node] == nil {
			order = append(order, t.Node)
		}
		perNode[t.Node] = append(perNode[t.Node], ledger.AttemptRef{Task: id, Attempt: t.Attempt})
	}
	for _, id := range order {
		node, ok := before.Node(id)
		if !ok {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := o.disp.Dispatcher.Cancel(cctx, node, perNode[id])
		cancel()
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("cancel %d attempts on node %s: %v (its next heartbeat cancels them)", len(perNode[id]), id, err))
			continue
		}
		rep.Cancelled += len(perNode[id])
	}
	o.log.Info("flushed the ledger", "index", rep.Index, "dropped", rep.Dropped, "cancelled", rep.Cancelled, "running", cancelRunning)
	l.Kick()
	return rep, nil
}
