package sched

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// item is one pending task with what its visiting order depends on.
type item struct {
	need      time.Duration // est*(1+Slack)+Margin; Margin alone with no estimate
	key       uint64        // the visiting order, packed (see visitOrder)
	seq       uint64
	i         int32
	estimated bool
	starved   bool
}

// visitOrder is the order Place tries tasks in: starved tasks first, then
// tasks with no estimate at all (while pilots have the most time left),
// then the widest first, then the longest need first (to the second),
// then submission order. The order is packed into one key per task so
// sorting 10,000 tasks costs little.
func visitOrder(v View, pending []Task, now time.Time, cfg Config) []item {
	order := make([]item, len(pending))
	widest := 0
	for i := range v.Nodes {
		widest = max(widest, v.Nodes[i].TotalCores)
	}
	// A task is starved when it started waiting at or before its cutoff.
	cutoff, narrowCutoff := now.Add(-cfg.StarveAfter), now.Add(-cfg.StarveAfter)
	if cfg.NarrowStarveAfter > 0 {
		narrowCutoff = now.Add(-cfg.NarrowStarveAfter)
	}
	for i := range pending {
		t := &pending[i]
		need, ok := needOf(t, v.Learned, cfg)
		it := item{i: int32(i), seq: t.Seq, estimated: ok, need: need}
		c := cutoff
		if 2*t.Cores <= widest {
			c = narrowCutoff
		}
		it.starved = cfg.StarveAfter > 0 && !t.Since.After(c)
		const maxSec = 1<<46 - 1
		needSec := uint64(min(max(it.need/time.Second, 0), maxSec))
		cores := uint64(min(max(t.Cores, 0), 1<<16-1))
		it.key = uint64(btoi(!it.starved))<<63 | uint64(btoi(it.estimated))<<62 | (1<<16-1-cores)<<46 | (maxSec - needSec)
		order[i] = it
	}
	return sortItems(order)
}

// needOf is how much time task t needs before its node's pilot ends (the
// walltime rule): its estimate (its own, else the learned one) times
// 1+Slack, plus Margin; Margin alone when no estimate is known (ok false).
func needOf(t *Task, learned *Estimator, cfg Config) (need time.Duration, ok bool) {
	est, ok := t.Est, t.Est > 0
	if !ok {
		est, ok = learned.Estimate(t.Key)
	}
	need = cfg.Margin
	if ok {
		// Clamped so an absurd estimate cannot overflow into a negative
		// need that fits everywhere.
		need += time.Duration(min(float64(est)*(1+cfg.Slack), math.MaxInt64/2))
	}
	return need, ok
}

// sortItems sorts items by key, then by seq. Callers hand Place its tasks
// in submission order (the ledger's queue order), so the items usually
// come sorted by seq already; a stable radix sort by key then finishes the
// job in a few linear passes, one per byte in which the keys differ (with
// a one-hour spread of needs and 56-core nodes, three or four of eight).
// This is Place's largest cost besides the search, paid on every call.
func sortItems(order []item) []item {
	if !slices.IsSortedFunc(order, func(a, b item) int { return cmp.Compare(a.seq, b.seq) }) {
		slices.SortFunc(order, func(a, b item) int { return cmp.Compare(a.seq, b.seq) })
	}
	if len(order) < 2 {
		return order
	}
	and, or := ^uint64(0), uint64(0)
	for i := range order {
		and &= order[i].key
		or |= order[i].key
	}
	differ := and ^ or
	buf := make([]item, len(order))
	for shift := 0; shift < 64; shift += 8 {
		if differ>>shift&0xff == 0 {
			continue
		}
		var count [257]int
		for i := range order {
			count[order[i].key>>shift&0xff+1]++
		}
		for b := 1; b < len(count); b++ {
			count[b] += count[b-1]
		}
		for i := range order {
			b := order[i].key >> shift & 0xff
			buf[count[b]] = order[i]
			count[b]++
		}
		order, buf = buf, order
	}
	return order
}
