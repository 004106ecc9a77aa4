package coordinator

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/coordinator/sched"
)

// maxPlan bounds how many queued tasks one plan looks at; the window is
// sized to the cluster, so this only caps a pathological backlog.
const maxPlan = 20000

// dispatchTimeout bounds one Dispatch call to one node.
const dispatchTimeout = 15 * time.Second

// place runs the scheduler on the newest ledger state, commits its plan
// (the ledger re-checks every assignment: cores, memory, draining, attempt)
// and sends the committed assignments to their nodes.
func (l *Leader) place(ctx context.Context) error {
	v := l.node.Ledger().View()
	// The queued tasks as the scheduler sees them, walked (not copied) into
	// the last round's buffer: a round runs on every report. Attempts are
	// looked up below, for the few tasks the plan names.
	pending := l.pending[:0]
	v.WalkQueued(func(t *ledger.Task) bool {
		pending = append(pending, schedTask(t))
		return len(pending) >= maxPlan
	})
	l.pending = pending
	if len(pending) == 0 {
		l.setWaiting(nil)
		l.mu.Lock()
		l.walltimeCores = 0
		l.mu.Unlock()
		return nil
	}
	nodes := v.Nodes()
	// The plan fills idle cores; placeBacklogs then fills the nodes'
	// backlogs (their prefetch allowances) with short tasks.
	view := sched.View{Nodes: make([]sched.Node, len(nodes)), Shapes: l.cfg.Shapes}
	unreachable := map[string]bool{}
	for i, n := range nodes {
		free := n.IdleCores()
		if l.isUnreachable(n.ID) {
			free, unreachable[n.ID] = 0, true
		}
		view.Nodes[i] = schedNode(n)
		view.Nodes[i].FreeCores = free
		view.Nodes[i].PilotEnd = time.Unix(0, n.PilotEnd)
		if n.PilotEnd == 0 {
			view.Nodes[i].PilotEnd = time.Unix(0, 1<<62) // no end known
		}
	}
	l.mu.Lock()
	view.Learned, view.Held = l.estimator, l.held
	setBusyUntil(v, view.Nodes, l.estimator, l.cfg.Now())
	plan := sched.Place(view, pending, l.cfg.Now(), l.cfg.Sched)
	l.held = plan.Reservations // a reservation holds across plans
	// placeBacklogs filters pending in place: nothing reads it after.
	more := l.placeBacklogs(v, view, nodes, unreachable, pending, plan)
	l.backlogging = len(more) > 0
	l.walltimeCores = plan.Unfit()
	l.mu.Unlock()
	if len(more) > 0 {
		plan.Placements = append(plan.Placements, more...)
		if n := plan.Waiting[sched.ReasonCores]; n > 0 {
			plan.Waiting[sched.ReasonCores] = max(n-len(more), 0)
		}
	}
	l.setWaiting(plan.Waiting)

	if len(plan.Unschedulable) > 0 && len(nodes) > 0 {
		fail := ledger.Fail{At: l.now()}
		for _, u := range plan.Unschedulable {
			t, _ := v.Task(u.Task)
			fail.Items = append(fail.Items, ledger.Failure{
				Task: u.Task, Attempt: t.Attempt, Class: ledger.FailFatal,
				Error: fmt.Sprintf("unschedulable: %s", u.Detail),
			})
		}
		if _, err := l.propose(ctx, fail); err != nil {
			return fmt.Errorf("fail %d unschedulable tasks: %w", len(fail.Items), err)
		}
	}
	if len(plan.Placements) == 0 {
		return nil
	}
	assign := ledger.Assign{At: l.now(), Items: make([]ledger.Assignment, len(plan.Placements))}
	for i, p := range plan.Placements {
		t, _ := v.Task(p.Task)
		assign.Items[i] = ledger.Assignment{Task: p.Task, Node: p.Node, Attempt: t.Attempt + 1}
	}
	out, err := l.propose(ctx, assign)
	if err != nil {
		return fmt.Errorf("assign %d tasks: %w", len(assign.Items), err)
	}
	refused := make(map[string]bool, len(out.Refused))
	for _, r := range out.Refused {
		refused[r.Task] = true
	}
	committed := make([]ledger.Task, 0, len(assign.Items))
	v = l.node.Ledger().View()
	for _, a := range assign.Items {
		if refused[a.Task] {
			continue
		}
		if t, ok := v.Task(a.Task); ok && t.State == ledger.Assigned && t.Attempt == a.Attempt {
			committed = append(committed, t)
		}
	}
	l.redispatch(ctx, committed)
	return nil
}

// redispatch sends assigned attempts to their nodes, one goroutine per node
// so a slow node holds up nobody. A node that cannot be reached gets its
// attempts requeued as infra failures (they do not spend the task's retries).
func (l *Leader) redispatch(ctx context.Context, assigned []ledger.Task) {
	if len(assigned) == 0 {
		return
	}
	v := l.node.Ledger().View()
	perNode := map[string][]Work{}
	var order []string
	for _, t := range assigned {
		if _, ok := perNode[t.Node]; !ok {
			order = append(order, t.Node)
		}
		perNode[t.Node] = append(perNode[t.Node], Work{Spec: t.Spec, Attempt: t.Attempt})
	}
	for _, id := range order {
		node, ok := v.Node(id)
		if !ok {
			continue
		}
		work := perNode[id]
		go func() {
			dctx, cancel := context.WithTimeout(ctx, dispatchTimeout)
			defer cancel()
			refused, err := l.cfg.Dispatch.Dispatch(dctx, node, work)
			if ctx.Err() != nil {
				return
			}
			var failed []ledger.AttemptRef
			reason := ""
			switch {
			case err != nil:
				// The attempts stay assigned. A dead node's AgentLost
				// requeues them and counts the crash (a task that kills
				// its agent before its start is reported is caught by the
				// poison rule only so); a live node's heartbeat does not
				// list them and Heartbeat requeues them after
				// StaleAssignment. Requeueing here sent the same tasks to
				// the dead node again, once a second, until it was lost.
				l.setUnreachable(node.ID)
				l.log.Warn("dispatch failed; the attempts wait for the node's heartbeat or its loss", "node", node.ID, "tasks", len(work), "err", err)
				return
			case len(refused) > 0:
				// A refusing node (draining, full) is left out of Place for
				// a moment, or the requeued attempts go straight back to it.
				l.setUnreachable(node.ID)
				failed = refused
				reason = fmt.Sprintf("node %s refused the attempt", node.ID)
			default:
				return
			}
			l.log.Warn("dispatch failed; requeueing", "node", node.ID, "tasks", len(failed), "reason", reason)
			fail := ledger.Fail{At: l.now()}
			for _, r := range failed {
				fail.Items = append(fail.Items, ledger.Failure{Task: r.Task, Attempt: r.Attempt, Class: ledger.FailInfra, Error: reason})
			}
			if _, err := l.propose(ctx, fail); err != nil {
				l.log.Warn("requeue after failed dispatch", "node", node.ID, "err", err)
			}
			l.Kick()
		}()
	}
}

// unreachableFor is how long Place leaves out a node a dispatch could not
// reach.
const unreachableFor = time.Second

func (l *Leader) setUnreachable(node string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.unreachable == nil {
		l.unreachable = map[string]time.Time{}
	}
	l.unreachable[node] = l.cfg.Now().Add(unreachableFor)
}

func (l *Leader) isUnreachable(node string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	until, ok := l.unreachable[node]
	if ok && !l.cfg.Now().Before(until) {
		delete(l.unreachable, node)
		return false
	}
	return ok
}

func (l *Leader) setWaiting(w map[sched.Reason]int) {
	l.mu.Lock()
	l.waiting = w
	l.mu.Unlock()
}

// setBusyUntil gives each node with tasks the time they are expected to
// have ended (sched.ExpectedEnd from their start, or from their assignment
// while they wait in a backlog). Place reserves a busy node for a starved
// wide task only when it knows this; a node running a task of no known
// runtime keeps zero. Each task is noted on its node for the lane rule
// (sched.Node.AddTask).
func setBusyUntil(v ledger.View, nodes []sched.Node, learned *sched.Estimator, now time.Time) {
	at := make(map[string]int, len(nodes))
	for i := range nodes {
		at[nodes[i].ID] = i
	}
	type busy struct {
		last    time.Time
		unknown bool
	}
	by := map[string]*busy{}
	for _, st := range []ledger.State{ledger.Assigned, ledger.Running} {
		v.Walk(st, func(t *ledger.Task) bool {
			b := by[t.Node]
			if b == nil {
				b = &busy{}
				by[t.Node] = b
			}
			start := t.StartedAt
			if start == 0 {
				start = t.AssignedAt
			}
			est, key := time.Duration(t.Spec.EstS*float64(time.Second)), ""
			if est <= 0 {
				key = sched.ShapeKey(t.Spec)
			}
			end, ok := sched.ExpectedEnd(time.Unix(0, start), est, key, learned)
			if !ok {
				b.unknown = true
			} else if end.After(b.last) {
				b.last = end
			}
			if i, on := at[t.Node]; on {
				nodes[i].AddTask(t.Spec.Cores, end, now)
			}
			return false
		})
	}
	for i := range nodes {
		if b := by[nodes[i].ID]; b != nil && !b.unknown {
			nodes[i].BusyUntil = b.last
		}
	}
}

// schedTask is a queued task as the scheduler sees it.
func schedTask(t *ledger.Task) sched.Task {
	return sched.Task{
		ID: t.Spec.ID, Cores: t.Spec.Cores, MemMB: t.Spec.MemMB,
		Est: time.Duration(t.Spec.EstS * float64(time.Second)), Key: sched.ShapeKey(t.Spec),
		Since: time.Unix(0, t.IngestedAt), Seq: t.QueueSeq,
	}
}

// schedNode is a node as the scheduler sees it, but for its free cores and
// its pilot's end, which each caller decides.
func schedNode(n ledger.Node) sched.Node {
	s := sched.Node{
		ID: n.ID, Pilot: n.Pilot, TotalCores: n.Cores, Draining: n.Draining,
		TotalMemMB: n.MemMB, FreeMemMB: n.FreeMemMB(),
	}
	if n.MemMB == 0 { // memory is not accounted on this node
		s.TotalMemMB, s.FreeMemMB = math.MaxInt64, math.MaxInt64
	}
	return s
}
