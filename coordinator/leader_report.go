package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/coordinator/sched"
	"github.com/pilot-hpc/pilot/task"
)

// ReportKind says what happened to an attempt.
type ReportKind uint8

// The report kinds. Values cross the wire: append only.
const (
	ReportStarted   ReportKind = 1
	ReportCompleted ReportKind = 2 // the attempt ran to its end; Result.ExitCode says how
	ReportFailed    ReportKind = 3 // it could not run or was stopped; Class says who pays
)

// Report is what an agent tells the leader about one attempt.
type Report struct {
	Kind    ReportKind       `msgpack:"kind"`
	Task    string           `msgpack:"task"`
	Attempt int              `msgpack:"attempt"`
	Result  task.Result      `msgpack:"result,omitempty"`
	Class   ledger.FailClass `msgpack:"class,omitempty"`
	Error   string           `msgpack:"error,omitempty"`
}

// Report commits a batch of agents' reports in one log entry and returns
// once it is applied. A stale or unknown attempt is refused inside the
// ledger (fenced) and is not an error here: the agent has nothing to retry.
// On a follower it returns a *NotLeaderError naming the leader.
func (l *Leader) Report(ctx context.Context, reports []Report) error {
	if len(reports) == 0 {
		return nil
	}
	at := l.now()
	var n [ReportFailed + 1]int // reports of each kind, to size the commands
	for _, r := range reports {
		if r.Kind <= ReportFailed {
			n[r.Kind]++
		}
	}
	started := ledger.Started{Items: make([]ledger.AttemptRef, 0, n[ReportStarted])}
	complete := ledger.Complete{Items: make([]ledger.Completion, 0, n[ReportCompleted])}
	fail := ledger.Fail{Items: make([]ledger.Failure, 0, n[ReportFailed])}
	for _, r := range reports {
		switch r.Kind {
		case ReportStarted:
			started.Items = append(started.Items, ledger.AttemptRef{Task: r.Task, Attempt: r.Attempt})
		case ReportCompleted:
			complete.Items = append(complete.Items, ledger.Completion{Task: r.Task, Attempt: r.Attempt, Result: r.Result})
		case ReportFailed:
			res := r.Result
			fail.Items = append(fail.Items, ledger.Failure{Task: r.Task, Attempt: r.Attempt, Class: r.Class, Error: r.Error, Result: &res})
		default:
			return fmt.Errorf("report for task %s: unknown kind %d", r.Task, r.Kind)
		}
	}
	batch := ledger.Batch{Cmds: make([]ledger.Command, 0, 3)}
	if len(started.Items) > 0 {
		started.At = at
		batch.Cmds = append(batch.Cmds, started)
	}
	if len(complete.Items) > 0 {
		complete.At = at
		batch.Cmds = append(batch.Cmds, complete)
	}
	if len(fail.Items) > 0 {
		fail.At = at
		batch.Cmds = append(batch.Cmds, fail)
	}
	out, err := l.propose(ctx, batch)
	if err != nil {
		return err
	}
	if len(out.Refused) > 0 {
		l.log.Info("reports refused by the ledger (stale or unknown attempts)", "refused", len(out.Refused), "first", out.Refused[0].Error())
	}
	l.learn(complete.Items)
	l.Kick()
	return nil
}

// learn feeds the runtimes of successful attempts to the estimator.
func (l *Leader) learn(done []ledger.Completion) {
	if len(done) == 0 {
		return
	}
	v := l.node.Ledger().View()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range done {
		if c.Result.ExitCode != 0 || c.Result.RuntimeS <= 0 {
			continue
		}
		if t, ok := v.Task(c.Task); ok {
			l.estimator.Observe(sched.ShapeKey(t.Spec), time.Duration(c.Result.RuntimeS*float64(time.Second)))
		}
	}
}

// Heartbeat reconciles what a node runs with what the ledger says it runs.
// Attempts the ledger has on the node that the node does not run (the
// dispatch was lost, the agent restarted) and that were assigned more than
// StaleAssignment before the heartbeat are requeued as infra failures.
// Attempts the node runs that the ledger does not give it (flushed, stale)
// are returned: the agent cancels them.
func (l *Leader) Heartbeat(ctx context.Context, node string, running []ledger.AttemptRef, sentAt time.Time) (cancel []ledger.AttemptRef, err error) {
	if !l.node.IsLeader() {
		id, addr := l.node.Leader()
		return nil, &NotLeaderError{LeaderID: id, LeaderAddr: addr}
	}
	v := l.node.Ledger().View()
	has := make(map[ledger.AttemptRef]bool, len(running))
	for _, r := range running {
		has[r] = true
		if t, ok := v.Task(r.Task); !ok || t.Node != node || t.Attempt != r.Attempt || t.State.Final() {
			cancel = append(cancel, r)
		}
	}
	cutoff := sentAt.Add(-l.cfg.StaleAssignment).UnixNano()
	var fail ledger.Fail
	for _, t := range v.OnNode(node) {
		if has[ledger.AttemptRef{Task: t.Spec.ID, Attempt: t.Attempt}] || t.AssignedAt > cutoff {
			continue
		}
		fail.Items = append(fail.Items, ledger.Failure{
			Task: t.Spec.ID, Attempt: t.Attempt, Class: ledger.FailInfra,
			Error: fmt.Sprintf("node %s does not run this attempt (lost dispatch or agent restart)", node),
		})
	}
	if len(fail.Items) > 0 {
		fail.At = l.now()
		if _, err := l.propose(ctx, fail); err != nil {
			return cancel, err
		}
		l.log.Warn("requeued attempts their node does not run", "node", node, "tasks", len(fail.Items))
		l.Kick()
	}
	return cancel, nil
}
