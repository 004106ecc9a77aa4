package sched

import "time"

// Place plans which pending tasks start on which nodes now. It is a pure
// function: the same arguments give the same Plan, whatever the order of
// v.Nodes. It neither blocks nor keeps anything, and reads v.Learned
// without changing it.
func Place(v View, pending []Task, now time.Time, cfg Config) Plan {
	ix := newIndex(v.Nodes, now)
	order := visitOrder(v, pending, now, cfg)
	fit := newFitCheck(v, now)
	var plan Plan
	maxReserve := reserveCap(len(v.Nodes)-len(ix.draining), cfg.ReserveShare)
	// failed remembers the last task shape that found no node: from class
	// from on, no node has its cores and memory. Tasks of one width come
	// together in the visiting order, longest first, so the next task of
	// that shape needs to search only the classes its shorter need opens;
	// the others cannot have gained room, since Place only takes it.
	var failed struct {
		cores int
		mem   int64
		from  int
		ok    bool
	}
	held := holdPrior(ix, v.Held, pending, now, maxReserve)
	guardLanes := cfg.GuardLanes && lanesBind(v.Nodes, pending, order, now, cfg)
	var resRanks []int32 // the nodes of plan.Reservations
	var waiting tally
	if len(held) > 0 {
		// Tasks that hold a node go first, so a node they let go of is
		// there for every other task.
		order = heldFirst(order, held)
	}
	for k, it := range order {
		t := &pending[it.i]
		first := ix.firstClass(it.need)
		if k < len(held) {
			h := held[it.i]
			// The task holds a node from the last plan: it starts there
			// or anywhere else it fits now, or keeps holding the node.
			r, fits := h.rank, ix.free[h.rank] >= t.Cores && ix.mem[h.rank] >= t.MemMB && it.need < ix.remaining[h.rank]
			spare, spareMem := ix.spare[r], ix.spareMem[r] // the node keeps them if the task holds on
			ix.unreserve(h.rank)
			failed.ok = false
			if !fits {
				r, fits = ix.find(t.Cores, t.MemMB, it.need, first, len(ix.classes), !it.estimated)
			}
			if fits {
				ix.take(r, t.Cores, t.MemMB, it.need)
				plan.Placements = append(plan.Placements, Placement{Task: t.ID, Node: ix.nodes[r].ID})
				continue
			}
			ix.reserve(h.rank, h.until, spare, spareMem)
			// The hold was in force from the plan's start (holdPrior):
			// every placement of this plan came after it.
			plan.Reservations = append(plan.Reservations, Reservation{Task: t.ID, Node: ix.nodes[h.rank].ID, Until: now.Add(h.until)})
			resRanks = append(resRanks, h.rank)
			waiting.add(ix.diagnose(t.Cores, t.MemMB, first, it.need), t.Cores)
			continue
		}
		stop := len(ix.classes)
		if failed.ok && failed.cores == t.Cores && failed.mem == t.MemMB {
			stop = max(first, failed.from)
		}
		if r, ok := ix.find(t.Cores, t.MemMB, it.need, first, stop, !it.estimated); ok {
			ix.take(r, t.Cores, t.MemMB, it.need)
			plan.Placements = append(plan.Placements, Placement{Task: t.ID, Node: ix.nodes[r].ID})
			continue
		}
		if !failed.ok || failed.cores != t.Cores || failed.mem != t.MemMB || first < failed.from {
			failed.cores, failed.mem, failed.from, failed.ok = t.Cores, t.MemMB, first, true
		}
		if limit, detail, fits := fit.check(t.Cores, t.MemMB, it.need); !fits {
			plan.Unschedulable = append(plan.Unschedulable, Unschedulable{Task: t.ID, Limit: limit, Detail: detail})
			continue
		}
		reason := ix.diagnose(t.Cores, t.MemMB, first, it.need)
		reserved := false
		if it.starved && len(ix.reserved) < maxReserve {
			if r, at, ok := ix.findReserve(t.Cores, t.MemMB, it.need); ok {
				ix.reserve(r, at, ix.nodes[r].TotalCores-t.Cores, ix.nodes[r].TotalMemMB-t.MemMB)
				plan.Reservations = append(plan.Reservations, Reservation{Task: t.ID, Node: ix.nodes[r].ID, Until: now.Add(at), After: len(plan.Placements)})
				resRanks = append(resRanks, r)
				reserved = true
			}
		}
		if !reserved && guardLanes {
			ix.guard(t.Cores, t.MemMB, it.need)
		}
		waiting.add(reason, t.Cores)
	}
	plan.Waiting, plan.WaitingCores = waiting.counts()
	for r, n := range ix.nodes {
		if !n.Draining {
			plan.IdleCores += ix.free[r]
		}
	}
	for _, r := range ix.guarded {
		if ix.keep[r] > 0 || ix.keepMem[r] > 0 {
			plan.Kept = append(plan.Kept, Keep{Node: ix.nodes[r].ID, Cores: ix.keep[r], MemMB: ix.keepMem[r]})
		}
	}
	for i, r := range resRanks {
		plan.Reservations[i].Spare, plan.Reservations[i].SpareMemMB = ix.spare[r], ix.spareMem[r]
	}
	return plan
}

// lanesBind says whether wide tasks (wider than half a node) are what
// limits the cluster: the narrow tasks' core-seconds, pending and
// running, would fit in the room the wide ones leave beside them, one to
// a node, so every node should run a wide task and the narrow ones fill
// the rest. Expected runtimes weigh the tasks (a task with none counts
// nothing); the widest node stands for every node for pending tasks.
func lanesBind(nodes []Node, pending []Task, order []item, now time.Time, cfg Config) bool {
	widest := 0
	var spare, narrow float64
	for i := range nodes {
		n := &nodes[i]
		widest = max(widest, n.TotalCores)
		if n.Draining {
			continue
		}
		if 2*n.Widest > n.TotalCores && !n.WideEnd.IsZero() {
			spare += float64(n.TotalCores-n.Widest) * max(n.WideEnd.Sub(now), 0).Seconds()
		}
		narrow += n.NarrowCoreS
	}
	for _, it := range order {
		if !it.estimated {
			continue
		}
		est := float64(it.need-cfg.Margin) / (1 + cfg.Slack) / float64(time.Second)
		if c := pending[it.i].Cores; 2*c > widest {
			spare += float64(widest-c) * est
		} else {
			narrow += float64(c) * est
		}
	}
	return spare > 0 && narrow < spare
}

// hold is a reservation carried over from the last plan.
type hold struct {
	rank  int32
	until time.Duration
}

// holdPrior takes the nodes that pending tasks held in the last plan out
// of the index before anything is placed, so no task visited earlier
// takes them (except by backfill). A hold lapses when its task is no
// longer pending or its node is gone, draining or too small. A hold keeps
// its spare room as the last plan left it, and its shadow never moves
// later: the node is busy for longer once tasks run in the spare room,
// but they leave the held task its cores, which it gets by then.
func holdPrior(ix *index, prior []Reservation, pending []Task, now time.Time, maxReserve int) map[int32]hold {
	if len(prior) == 0 || maxReserve == 0 {
		return nil
	}
	byTask := make(map[string]Reservation, len(prior))
	for _, r := range prior {
		byTask[r.Task] = r
	}
	held := map[int32]hold{}
	for i := range pending {
		t := &pending[i]
		res, ok := byTask[t.ID]
		if !ok || len(held) == maxReserve {
			continue
		}
		r, ok := ix.rank(res.Node)
		if !ok || ix.class[r] < 0 || ix.nodes[r].TotalCores < t.Cores || ix.nodes[r].TotalMemMB < t.MemMB || ix.busy[r] < 0 {
			continue
		}
		until := min(ix.busy[r], max(res.Until.Sub(now), 0))
		ix.reserve(r, until, min(res.Spare, ix.nodes[r].TotalCores-t.Cores), min(res.SpareMemMB, ix.nodes[r].TotalMemMB-t.MemMB))
		held[int32(i)] = hold{rank: r, until: until}
	}
	return held
}

// heldFirst moves the items of tasks that hold a node to the front,
// keeping the order within both parts.
func heldFirst(order []item, held map[int32]hold) []item {
	is := make([]bool, len(order))
	for i := range held {
		is[i] = true
	}
	out := make([]item, 0, len(order))
	for _, it := range order {
		if is[it.i] {
			out = append(out, it)
		}
	}
	for _, it := range order {
		if !is[it.i] {
			out = append(out, it)
		}
	}
	return out
}

// tally counts waiting tasks and their cores by reason; a map increment
// per task cost a sixth of Place on the simulator's mixed workload.
type tally struct {
	reasons [8]Reason
	n       [8]int
	cores   [8]int
	k       int
}

func (t *tally) add(r Reason, cores int) {
	for i := range t.k {
		if t.reasons[i] == r {
			t.n[i]++
			t.cores[i] += cores
			return
		}
	}
	t.reasons[t.k], t.n[t.k], t.cores[t.k] = r, 1, cores
	t.k++
}

func (t *tally) counts() (tasks, cores map[Reason]int) {
	tasks, cores = make(map[Reason]int, t.k), make(map[Reason]int, t.k)
	for i := range t.k {
		tasks[t.reasons[i]], cores[t.reasons[i]] = t.n[i], t.cores[i]
	}
	return tasks, cores
}

func reserveCap(nodes int, share float64) int {
	if share <= 0 || nodes == 0 {
		return 0
	}
	return max(1, int(share*float64(nodes)))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
