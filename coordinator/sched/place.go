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
	held := holdPrior(ix, v.Held, pending, maxReserve)
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
		if h, ok := held[it.i]; ok {
			// The task holds a node from the last plan: it starts there
			// or anywhere else it fits now, or keeps holding the node.
			r, fits := h.rank, ix.free[h.rank] >= t.Cores && ix.mem[h.rank] >= t.MemMB && it.need < ix.remaining[h.rank]
			ix.unreserve(h.rank)
			failed.ok = false
			if !fits {
				r, fits = ix.find(t.Cores, t.MemMB, it.need, ix.firstClass(it.need), len(ix.classes), !it.estimated)
			}
			if fits {
				ix.take(r, t.Cores, t.MemMB)
				plan.Placements = append(plan.Placements, Placement{Task: t.ID, Node: ix.nodes[r].ID})
				continue
			}
			ix.reserve(h.rank, h.until)
			plan.Reservations = append(plan.Reservations, Reservation{Task: t.ID, Node: ix.nodes[h.rank].ID, Until: now.Add(h.until), After: len(plan.Placements)})
			plan.Waiting[ix.diagnose(t.Cores, t.MemMB, ix.firstClass(it.need), it.need)]++
			continue
		}
		first, stop := ix.firstClass(it.need), len(ix.classes)
		if failed.ok && failed.cores == t.Cores && failed.mem == t.MemMB {
			stop = max(first, failed.from)
		}
		if r, ok := ix.find(t.Cores, t.MemMB, it.need, first, stop, !it.estimated); ok {
			ix.take(r, t.Cores, t.MemMB)
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
				ix.reserve(r, at)
				plan.Reservations = append(plan.Reservations, Reservation{Task: t.ID, Node: ix.nodes[r].ID, Until: now.Add(at), After: len(plan.Placements)})
			}
		}
		plan.Waiting[reason]++
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
// longer pending or its node is gone, draining or too small.
func holdPrior(ix *index, prior []Reservation, pending []Task, maxReserve int) map[int32]hold {
	if len(prior) == 0 || maxReserve == 0 {
		return nil
	}
	node := make(map[string]string, len(prior))
	for _, r := range prior {
		node[r.Task] = r.Node
	}
	held := map[int32]hold{}
	for i := range pending {
		t := &pending[i]
		id, ok := node[t.ID]
		if !ok || len(held) == maxReserve {
			continue
		}
		r, ok := ix.rank(id)
		if !ok || ix.class[r] < 0 || ix.nodes[r].TotalCores < t.Cores || ix.nodes[r].TotalMemMB < t.MemMB || ix.busy[r] < 0 {
			continue
		}
		ix.reserve(r, ix.busy[r])
		held[int32(i)] = hold{rank: r, until: ix.busy[r]}
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
