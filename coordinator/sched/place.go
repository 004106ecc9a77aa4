package sched

import (
	"cmp"
	"slices"
	"time"
)

// Place plans which pending tasks start on which nodes now. It is a pure
// function: the same arguments give the same Plan, whatever the order of
// v.Nodes. It neither blocks nor keeps anything, and reads v.Learned
// without changing it.
func Place(v View, pending []Task, now time.Time, cfg Config) Plan {
	ix := newIndex(v.Nodes, now)
	order := visitOrder(v, pending, now, cfg)
	fit := newFitCheck(v, now)
	plan := Plan{Waiting: map[Reason]int{}}
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
	var resRanks []int32 // the nodes of plan.Reservations
	if len(held) > 0 {
		// Tasks that hold a node go first, so a node they let go of is
		// there for every other task.
		slices.SortStableFunc(order, func(a, b item) int {
			_, ha := held[a.i]
			_, hb := held[b.i]
			return cmp.Compare(btoi(hb), btoi(ha))
		})
	}
	for _, it := range order {
		t := &pending[it.i]
		first := ix.firstClass(it.need)
		if h, ok := held[it.i]; ok {
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
			plan.Reservations = append(plan.Reservations, Reservation{Task: t.ID, Node: ix.nodes[h.rank].ID, Until: now.Add(h.until), After: len(plan.Placements)})
			resRanks = append(resRanks, h.rank)
			plan.Waiting[ix.diagnose(t.Cores, t.MemMB, first, it.need)]++
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
		if it.starved && len(ix.reserved) < maxReserve {
			if r, at, ok := ix.findReserve(t.Cores, t.MemMB, it.need); ok {
				ix.reserve(r, at, ix.nodes[r].TotalCores-t.Cores, ix.nodes[r].TotalMemMB-t.MemMB)
				plan.Reservations = append(plan.Reservations, Reservation{Task: t.ID, Node: ix.nodes[r].ID, Until: now.Add(at), After: len(plan.Placements)})
				resRanks = append(resRanks, r)
			}
		}
		plan.Waiting[reason]++
	}
	for i, r := range resRanks {
		plan.Reservations[i].Spare, plan.Reservations[i].SpareMemMB = ix.spare[r], ix.spareMem[r]
	}
	return plan
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
