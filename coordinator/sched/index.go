package sched

import (
	"slices"
	"strings"
	"time"
)

// index is the nodes of one Place call, arranged for fast first-fit
// queries. Nodes are named by rank, their position in id order. Each
// non-draining node sits in the class of its pilot end time; each class
// keeps a max-tree of its nodes' free cores, so "the first node with c
// free cores" and "is there any" cost O(log n), not a scan.
type index struct {
	nodes     []*Node         // by rank
	free      []int           // free cores by rank
	mem       []int64         // free memory by rank
	class     []int32         // class by rank; -1 for draining and reserved nodes
	home      []int32         // class by rank as built; -1 for draining nodes
	pos       []int32         // position in its class by rank
	classes   []class         // by remaining time, shortest first
	remain    []time.Duration // each class's remaining time, in class order
	draining  []int32
	reserved  []int32
	resMost   int             // the most free cores of a reserved node, -1 with none
	remaining []time.Duration // by rank
	busy      []time.Duration // by rank: until BusyUntil, -1 when unknown
	shadow    []time.Duration // by rank: a reserved node is held until then
	// spare and spareMem are, by rank, what a reserved node has beyond
	// what its starved task needs once the node is free: tasks that run
	// past the shadow may use that much (see find).
	spare    []int
	spareMem []int64
	// wide says, by rank, that the node runs a task wider than half of
	// it (Node.Widest) or was given one in this plan. keep and keepMem
	// are, by rank, what a guarded node keeps free for a wide task that
	// waits (see guard); guarded lists those nodes, and lanes the nodes
	// that may still be guarded, most free cores first, built when first
	// needed.
	wide    []bool
	keep    []int
	keepMem []int64
	guarded []int32
	lanes   []int32
	lanesOK bool
	// most[ci] is the most free cores of any node in classes ci and
	// later: a task wider than that fails with no search at all.
	most []int
}

// class is the nodes whose pilots end at one time.
type class struct {
	ranks   []int32 // ascending
	size    int     // leaves of tree, a power of two ≥ len(ranks)
	tree    []int   // tree[1] is the root; leaves hold free cores, -1 when absent
	memTree []int64 // the same over free memory, so searches prune on both
}

func newIndex(nodes []Node, now time.Time) *index {
	ix := &index{
		nodes:     make([]*Node, len(nodes)),
		free:      make([]int, len(nodes)),
		mem:       make([]int64, len(nodes)),
		class:     make([]int32, len(nodes)),
		home:      make([]int32, len(nodes)),
		pos:       make([]int32, len(nodes)),
		remaining: make([]time.Duration, len(nodes)),
		busy:      make([]time.Duration, len(nodes)),
		shadow:    make([]time.Duration, len(nodes)),
		spare:     make([]int, len(nodes)),
		spareMem:  make([]int64, len(nodes)),
		wide:      make([]bool, len(nodes)),
		keep:      make([]int, len(nodes)),
		keepMem:   make([]int64, len(nodes)),
		resMost:   -1,
	}
	for i := range nodes {
		ix.nodes[i] = &nodes[i]
	}
	slices.SortStableFunc(ix.nodes, func(a, b *Node) int { return strings.Compare(a.ID, b.ID) })
	var ends []time.Time
	for r, n := range ix.nodes {
		ix.free[r] = min(max(n.FreeCores, 0), max(n.TotalCores, 0))
		ix.mem[r] = n.FreeMemMB
		ix.remaining[r] = n.PilotEnd.Sub(now)
		ix.wide[r] = 2*n.Widest > n.TotalCores
		switch {
		case ix.free[r] >= n.TotalCores:
			ix.busy[r] = 0
		case n.BusyUntil.IsZero():
			ix.busy[r] = -1
		default:
			ix.busy[r] = max(n.BusyUntil.Sub(now), 0)
		}
		if !n.Draining {
			ends = append(ends, n.PilotEnd)
		}
	}
	slices.SortFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
	ends = slices.CompactFunc(ends, func(a, b time.Time) bool { return a.Equal(b) })
	ix.classes = make([]class, len(ends))
	ix.remain = make([]time.Duration, len(ends))
	for i, e := range ends {
		ix.remain[i] = e.Sub(now)
	}
	for r, n := range ix.nodes {
		if n.Draining {
			ix.class[r], ix.home[r] = -1, -1
			ix.draining = append(ix.draining, int32(r))
			continue
		}
		ci, _ := slices.BinarySearchFunc(ends, n.PilotEnd, func(a, b time.Time) int { return a.Compare(b) })
		cl := &ix.classes[ci]
		ix.class[r], ix.home[r], ix.pos[r] = int32(ci), int32(ci), int32(len(cl.ranks))
		cl.ranks = append(cl.ranks, int32(r))
	}
	for ci := range ix.classes {
		ix.classes[ci].build(ix.free, ix.mem)
	}
	ix.most = make([]int, len(ix.classes)+1)
	ix.most[len(ix.classes)] = -1
	for ci := len(ix.classes) - 1; ci >= 0; ci-- {
		ix.most[ci] = max(ix.classes[ci].tree[1], ix.most[ci+1])
	}
	return ix
}

// firstClass is the first class whose nodes have more than need left.
// Pilots are few, so a scan of their end times beats a binary search.
func (ix *index) firstClass(need time.Duration) int {
	for i, rem := range ix.remain {
		if rem > need {
			return i
		}
	}
	return len(ix.remain)
}

// find is the node for a task of c cores and m MB that needs need: a
// reserved node it can use (backfill), else in classes [first, stop) the
// first fit, in the pilot that ends soonest (latest when late: the task
// has no estimate), then the lowest id. First fit keeps the nodes of high
// id empty, where wide tasks find room. A task with an estimate may
// backfill a reserved node when it is expected to end by the reservation's
// shadow, or when it fits in the node's spare room, which the starved task
// leaves over once the node is free, however long it runs. A task with no
// estimate never backfills: the node's expected end would become unknown,
// and with it the reservation.
func (ix *index) find(c int, m int64, need time.Duration, first, stop int, late bool) (int32, bool) {
	for _, r := range ix.reserved {
		if late || c > ix.resMost {
			break
		}
		if ix.free[r] >= c && ix.mem[r] >= m && need < ix.remaining[r] && (need <= ix.shadow[r] || (c <= ix.spare[r] && m <= ix.spareMem[r])) {
			return r, true
		}
	}
	for _, r := range ix.guarded {
		if ix.free[r] >= c && ix.mem[r] >= m && need < ix.remaining[r] &&
			(2*c > ix.nodes[r].TotalCores || (ix.free[r]-c >= ix.keep[r] && ix.mem[r]-m >= ix.keepMem[r])) {
			return r, true
		}
	}
	if c > ix.most[first] {
		return -1, false
	}
	try := func(ci int) (int32, bool) {
		cl := &ix.classes[ci]
		if p := cl.first(1, 0, cl.size, c, m); p >= 0 {
			return cl.ranks[p], true
		}
		return -1, false
	}
	if late {
		for ci := stop - 1; ci >= first; ci-- {
			if r, ok := try(ci); ok {
				return r, true
			}
		}
		return -1, false
	}
	for ci := first; ci < stop; ci++ {
		if r, ok := try(ci); ok {
			return r, true
		}
	}
	return -1, false
}

// take gives c cores and m MB of node r to a task that needs need. On a
// reserved node, a task that may run past the shadow takes from the spare
// room.
func (ix *index) take(r int32, c int, m int64, need time.Duration) {
	ix.free[r] -= c
	ix.mem[r] -= m
	if 2*c > ix.nodes[r].TotalCores {
		ix.wide[r] = true
		ix.keep[r], ix.keepMem[r] = 0, 0 // a guarded node got its wide task
	}
	ci := int(ix.class[r])
	if ci < 0 && slices.Contains(ix.guarded, r) {
		return
	}
	if ci < 0 {
		if need > ix.shadow[r] {
			ix.spare[r] -= c
			ix.spareMem[r] -= m
		}
		ix.updateResMost() // a reserved node, backfilled
		return
	}
	ix.classes[ci].set(int(ix.pos[r]), ix.free[r], ix.mem[r])
	ix.updateMost(ci)
}

// findReserve is the node to hold for a starved task of c cores and m MB
// that needs need: among the nodes big enough, the one expected to be free
// first (an idle one now, one whose running tasks have no estimate last)
// with the time after that to run the task, then the one with the most
// free cores, then the lowest id. It returns the node and when it is
// expected to be free.
func (ix *index) findReserve(c int, m int64, need time.Duration) (int32, time.Duration, bool) {
	best, bestAt := int32(-1), time.Duration(0)
	for ci := ix.firstClass(need); ci < len(ix.classes); ci++ {
		for _, r := range ix.classes[ci].ranks {
			n := ix.nodes[r]
			at := ix.busy[r]
			if ix.class[r] < 0 || n.TotalCores < c || n.TotalMemMB < m || at < 0 || at+need >= ix.remaining[r] {
				continue
			}
			if best < 0 || at < bestAt || (at == bestAt && ix.free[r] > ix.free[best]) {
				best, bestAt = r, at
			}
		}
	}
	return best, bestAt, best >= 0
}

// reserve takes node r out of the index until shadow for a starved task:
// only tasks that end by then, or that fit in the spare cores and memory
// (which the task leaves over once the node is free), are placed on it.
func (ix *index) reserve(r int32, shadow time.Duration, spare int, spareMem int64) {
	ci := int(ix.class[r])
	ix.classes[ci].set(int(ix.pos[r]), -1, -1)
	ix.class[r] = -1
	ix.shadow[r] = shadow
	ix.spare[r], ix.spareMem[r] = spare, spareMem
	ix.reserved = append(ix.reserved, r)
	ix.resMost = max(ix.resMost, ix.free[r])
	ix.updateMost(ci)
}

func (ix *index) updateResMost() {
	ix.resMost = -1
	for _, r := range ix.reserved {
		ix.resMost = max(ix.resMost, ix.free[r])
	}
}

// unreserve puts reserved node r back into the index.
func (ix *index) unreserve(r int32) {
	ci := int(ix.home[r])
	ix.class[r] = int32(ci)
	ix.classes[ci].set(int(ix.pos[r]), ix.free[r], ix.mem[r])
	ix.reserved = slices.DeleteFunc(ix.reserved, func(x int32) bool { return x == r })
	ix.updateResMost()
	for ; ci >= 0; ci-- {
		ix.most[ci] = max(ix.classes[ci].tree[1], ix.most[ci+1])
	}
}

// guard keeps a node for a task of c cores and m MB, wider than half of
// it, that fits nowhere now and needs need: of the nodes that run no such
// task, are neither draining, held nor guarded, are big enough and have
// the time, the one with the most free cores (then the lowest id) when
// the plan first guarded. Tasks placed on it after this leave it c cores
// and m MB free, unless they are that wide themselves: its narrow tasks
// end, and it drains for the wide one, instead of narrow tasks taking
// every core it frees, one by one, so that no wide task ever fits. It
// reports whether it found a node.
func (ix *index) guard(c int, m int64, need time.Duration) bool {
	if !ix.lanesOK {
		ix.lanesOK = true
		for r := range ix.nodes {
			if ix.class[r] >= 0 && !ix.wide[r] {
				ix.lanes = append(ix.lanes, int32(r))
			}
		}
		slices.SortStableFunc(ix.lanes, func(a, b int32) int { return ix.free[b] - ix.free[a] })
	}
	// Nodes held, guarded or given a wide task since leave the list as
	// they are met, so a plan's guards cost one pass over it at most,
	// besides the nodes too small or short for a task.
	live := ix.lanes[:0]
	found := int32(-1)
	for i, r := range ix.lanes {
		if ix.class[r] < 0 || ix.wide[r] {
			continue
		}
		n := ix.nodes[r]
		if n.TotalCores < c || 2*c <= n.TotalCores || n.TotalMemMB < m || need >= ix.remaining[r] {
			live = append(live, r)
			continue
		}
		found = r
		live = append(live, ix.lanes[i+1:]...)
		break
	}
	ix.lanes = live
	if found < 0 {
		return false
	}
	ci := int(ix.class[found])
	ix.classes[ci].set(int(ix.pos[found]), -1, -1)
	ix.class[found] = -1
	ix.updateMost(ci)
	ix.keep[found], ix.keepMem[found] = c, m
	ix.guarded = append(ix.guarded, found)
	return true
}

// rank is the rank of the node with id, if there is one.
func (ix *index) rank(id string) (int32, bool) {
	r, ok := slices.BinarySearchFunc(ix.nodes, id, func(n *Node, id string) int { return strings.Compare(n.ID, id) })
	return int32(r), ok
}

// updateMost recomputes most from class ci down, after ci lost cores.
func (ix *index) updateMost(ci int) {
	for ; ci >= 0; ci-- {
		m := max(ix.classes[ci].tree[1], ix.most[ci+1])
		if m == ix.most[ci] {
			return
		}
		ix.most[ci] = m
	}
}

// diagnose says why a task that find could not place waits. It looks at
// free cores only where the trees answer at once (memory is the reason
// only when nodes with the time and the cores exist), so it costs
// O(classes).
func (ix *index) diagnose(c int, m int64, first int, need time.Duration) Reason {
	if c <= ix.most[first] {
		return ReasonMemory
	}
	fits := func(r int32) bool { return ix.free[r] >= c && ix.mem[r] >= m }
	for _, r := range ix.reserved {
		if c > ix.resMost {
			break
		}
		if fits(r) && ix.remaining[r] > need {
			return ReasonReserved
		}
	}
	for ci := 0; ci < first; ci++ {
		if ix.classes[ci].tree[1] >= c {
			return ReasonWalltime
		}
	}
	for _, r := range ix.guarded {
		if fits(r) && ix.remaining[r] > need {
			return ReasonReserved
		}
	}
	for _, r := range ix.draining {
		if fits(r) {
			return ReasonDraining
		}
	}
	return ReasonCores
}

func (cl *class) build(free []int, mem []int64) {
	cl.size = 1
	for cl.size < len(cl.ranks) {
		cl.size *= 2
	}
	cl.tree = make([]int, 2*cl.size)
	cl.memTree = make([]int64, 2*cl.size)
	for i := range cl.size {
		v, m := -1, int64(-1)
		if i < len(cl.ranks) {
			v, m = free[cl.ranks[i]], mem[cl.ranks[i]]
		}
		cl.tree[cl.size+i], cl.memTree[cl.size+i] = v, m
	}
	for i := cl.size - 1; i >= 1; i-- {
		cl.tree[i] = max(cl.tree[2*i], cl.tree[2*i+1])
		cl.memTree[i] = max(cl.memTree[2*i], cl.memTree[2*i+1])
	}
}

func (cl *class) set(p, v int, m int64) {
	i := cl.size + p
	cl.tree[i], cl.memTree[i] = v, m
	for i /= 2; i >= 1; i /= 2 {
		cl.tree[i] = max(cl.tree[2*i], cl.tree[2*i+1])
		cl.memTree[i] = max(cl.memTree[2*i], cl.memTree[2*i+1])
	}
}

// first is the leftmost position in [lo, hi) under tree node i with at
// least c free cores and m MB free memory, or -1. A subtree is skipped
// when its most cores or its most memory falls short.
func (cl *class) first(i, lo, hi, c int, m int64) int {
	if cl.tree[i] < c || cl.memTree[i] < m {
		return -1
	}
	if hi-lo == 1 {
		return lo
	}
	mid := (lo + hi) / 2
	if p := cl.first(2*i, lo, mid, c, m); p >= 0 {
		return p
	}
	return cl.first(2*i+1, mid, hi, c, m)
}
