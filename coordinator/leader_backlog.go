package coordinator

import (
	"cmp"
	"slices"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/coordinator/sched"
)

// backlogMaxEst is the longest expected runtime (the task's est_s, else
// the learned one) of a task that may wait in a node's backlog. A backlog
// (the node's prefetch allowance) lets the agent start the next task the
// moment cores free up instead of a leader round trip later: that round
// trip costs a task of milliseconds more than its run, and one of an hour
// nothing. Longer tasks, and tasks of unknown runtime, wait at the leader,
// where whichever node frees up first takes them, so no long task queues
// behind another on a node while a new pilot idles.
//
// backlogHorizon is about how much work a backlog holds per core: the
// prefetch allowance caps it, and so does this much time of the longest
// short task in the plan, so a backlog of millisecond tasks is deep and
// one of second-long tasks a few tasks per core: enough for a free core to
// find a task that fits it there.
const (
	backlogMaxEst  = time.Second
	backlogHorizon = 4 * time.Second
)

// placeBacklogs runs the scheduler a second time, for the short tasks the
// first plan (on idle cores) left waiting, on the room the nodes' backlogs
// still have once it is at least a quarter of them, leaving out
// unreachable nodes. It is called with l.mu held
// (the estimator) and returns the placements. It filters pending in
// place: the caller is done with it.
func (l *Leader) placeBacklogs(v ledger.View, view sched.View, nodes []ledger.Node, unreachable map[string]bool, pending []sched.Task, first sched.Plan) []sched.Placement {
	skip := make(map[string]bool, len(first.Unschedulable))
	for _, u := range first.Unschedulable {
		skip[u.Task] = true
	}
	placedOn := make(map[string]string, len(first.Placements))
	for _, p := range first.Placements {
		placedOn[p.Task] = p.Node
	}
	usedCores := map[string]int{}
	usedMem := map[string]int64{}
	short := pending[:0]
	longest, narrowest := time.Millisecond, 0
	for _, t := range pending {
		if node, ok := placedOn[t.ID]; ok {
			usedCores[node] += t.Cores
			usedMem[node] += t.MemMB
			continue
		}
		if skip[t.ID] {
			continue
		}
		if est, ok := l.backlogEst(t); ok {
			short = append(short, t)
			longest = max(longest, est)
			if narrowest == 0 || t.Cores < narrowest {
				narrowest = t.Cores
			}
		}
	}
	if len(short) == 0 {
		return nil
	}
	// The room is beyond the node's cores, and Place fills no node past
	// its size: the second view gives each node its room as its size, and
	// takes only tasks that fit the narrowest node with room, so none is
	// sent to a node it is wider than. No reservations: a backlog holds a
	// second or so of work, which delays a held node's wide task by that.
	second := view
	second.Nodes = make([]sched.Node, len(view.Nodes))
	second.Held = nil
	smallest, total := 0, 0 // the smallest node with room, the room
	for i, n := range view.Nodes {
		second.Nodes[i] = n
		second.Nodes[i].FreeCores = 0
		if unreachable[n.ID] {
			continue
		}
		ln := nodes[i]
		depth := min(ln.Prefetch, int(int64(ln.Cores)*int64(backlogHorizon)/int64(longest)))
		held := max(ln.UsedCores+usedCores[n.ID]-ln.Cores, 0) // cores of tasks waiting there
		free := max(min(depth-held, ln.FreeCores()-usedCores[n.ID]), 0)
		size := max(n.TotalCores, free)
		if free == 0 || 4*free < depth {
			// Refilled once a quarter is free: a task or two each round
			// would cost a log entry per task or two, and waiting until
			// half is free left backlogs of wide tasks only, which a
			// single free core cannot start. Between refills a backlog
			// that has none of the narrowest tasks gets one.
			free = narrowRefill(v, ln, usedCores[n.ID], narrowest)
			size = free
		}
		if free == 0 {
			continue
		}
		second.Nodes[i].FreeCores = free
		total += free
		second.Nodes[i].TotalCores = size
		second.Nodes[i].FreeMemMB = n.FreeMemMB - usedMem[n.ID]
		if smallest == 0 || n.TotalCores < smallest {
			smallest = n.TotalCores
		}
	}
	if smallest == 0 {
		return nil
	}
	// Queue order, and only as many as the room takes: Place visits the
	// widest first, and backlogs of nothing but wide tasks leave a core
	// that one frees with nothing to run.
	fits := short[:0]
	estOf := map[string]time.Duration{}
	for _, t := range short {
		if t.Cores <= smallest && t.Cores <= total {
			fits = append(fits, t)
			estOf[t.ID], _ = l.backlogEst(t)
			total -= t.Cores
		}
	}
	cfg := l.cfg.Sched
	cfg.ReserveShare, cfg.StarveAfter, cfg.NarrowStarveAfter = 0, 0, 0
	more := sched.Place(second, fits, l.cfg.Now(), cfg).Placements
	// A node starts its backlog in the order it gets it: the longest
	// first, so the last tasks of a campaign end together rather than one
	// long task after the rest (Place orders needs to the second only).
	slices.SortStableFunc(more, func(a, b sched.Placement) int { return cmp.Compare(estOf[b.Task], estOf[a.Task]) })
	return more
}

// backlogEst is a task's expected runtime (its est_s, else the learned
// one) when it is short enough for a backlog. It is called with l.mu held
// (the estimator).
func (l *Leader) backlogEst(t sched.Task) (time.Duration, bool) {
	est, known := t.Est, t.Est > 0
	if !known {
		est, known = l.estimator.Estimate(t.Key)
	}
	return est, known && est <= backlogMaxEst
}

// narrowRefill is the room for one of the narrowest short tasks (narrow
// cores) on a node whose backlog waits with none of them: the agent
// starts waiting tasks on free cores greedily, so narrow ones go first
// and a backlog drifts to wide tasks only; a core that frees then idles
// until another does (pack: a slot idled 100-200 ms at a time with a
// hundred one-core tasks queued). planned is the cores this round already
// gives the node. The ledger learns of starts a report later, so a task
// that just started may still count as waiting: this errs towards none.
func narrowRefill(v ledger.View, n ledger.Node, planned, narrow int) int {
	if planned > 0 || narrow == 0 || n.UsedCores <= n.Cores || n.FreeCores() < narrow {
		return 0 // it just got tasks, no backlog waits, or it is full
	}
	has := false
	v.WalkNode(n.ID, func(t *ledger.Task) bool {
		has = t.State == ledger.Assigned && t.Spec.Cores <= narrow
		return has
	})
	if has {
		return 0
	}
	return narrow
}
