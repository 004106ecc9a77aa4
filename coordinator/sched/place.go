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
	for _, it := range order {
		t := &pending[it.i]
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
		if it.starved && len(plan.Reservations) < maxReserve {
			if r, at, ok := ix.findReserve(t.Cores, t.MemMB, it.need); ok {
				ix.reserve(r, at)
				plan.Reservations = append(plan.Reservations, Reservation{Task: t.ID, Node: ix.nodes[r].ID, Until: now.Add(at), After: len(plan.Placements)})
			}
		}
		plan.Waiting[reason]++
	}
	return plan
}

// item is one pending task with what its visiting order depends on.
type item struct {
	need      time.Duration // est*(1+Slack)+Margin; Margin alone with no estimate
	since     int64         // unix nanoseconds
	seq       uint64
	i         int32
	cores     int32
	estimated bool
	starved   bool
}

// visitOrder is the order Place tries tasks in: starved tasks (oldest
// wait first), then tasks with no estimate at all (while pilots have the
// most time left), then the longest need first and the widest first, then
// submission order.
func visitOrder(v View, pending []Task, now time.Time, cfg Config) []item {
	order := make([]item, len(pending))
	for i := range pending {
		t := &pending[i]
		est, ok := t.Est, t.Est > 0
		if !ok {
			est, ok = v.Learned.Estimate(t.Key)
		}
		it := item{i: int32(i), since: t.Since.UnixNano(), seq: t.Seq, cores: int32(t.Cores), estimated: ok, need: cfg.Margin}
		if ok {
			it.need += time.Duration(float64(est) * (1 + cfg.Slack))
		}
		it.starved = cfg.StarveAfter > 0 && now.Sub(t.Since) >= cfg.StarveAfter
		order[i] = it
	}
	slices.SortFunc(order, func(a, b item) int {
		if a.starved != b.starved {
			return boolFirst(a.starved)
		}
		if a.estimated != b.estimated {
			return boolFirst(!a.estimated)
		}
		if c := cmp.Compare(b.cores, a.cores); c != 0 {
			return c
		}
		if c := cmp.Compare(b.need, a.need); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return order
}

func boolFirst(aFirst bool) int {
	if aFirst {
		return -1
	}
	return 1
}

func reserveCap(nodes int, share float64) int {
	if share <= 0 || nodes == 0 {
		return 0
	}
	return max(1, int(share*float64(nodes)))
}
