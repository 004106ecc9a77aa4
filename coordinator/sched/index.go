package sched

import (
	"math/bits"
	"slices"
	"strings"
	"time"
)

// index is the nodes of one Place call, arranged for fast best-fit
// queries. Nodes are named by rank, their position in id order. Each
// non-draining node sits in the class of its pilot end time and, inside it,
// in the bucket of its free cores; a bitset marks the non-empty buckets.
type index struct {
	nodes   []*Node // by rank
	free    []int   // free cores by rank
	mem     []int64 // free memory by rank
	class   []int32 // class by rank; -1 for draining and reserved nodes
	classes []class // by remaining time, shortest first
	// most[ci] is the most free cores of any node in classes ci and
	// later: a task wider than that fails with no search at all.
	most      []int
	draining  []int32
	reserved  []int32
	remaining []time.Duration // by rank
}

type class struct {
	remaining time.Duration
	buckets   [][]int32 // free cores -> ranks, ascending
	nonEmpty  []uint64  // bit f set when buckets[f] is not empty
}

func newIndex(nodes []Node, now time.Time) *index {
	ix := &index{
		nodes:     make([]*Node, len(nodes)),
		free:      make([]int, len(nodes)),
		mem:       make([]int64, len(nodes)),
		class:     make([]int32, len(nodes)),
		remaining: make([]time.Duration, len(nodes)),
	}
	for i := range nodes {
		ix.nodes[i] = &nodes[i]
	}
	slices.SortStableFunc(ix.nodes, func(a, b *Node) int { return strings.Compare(a.ID, b.ID) })
	maxCores := 0
	var ends []time.Time
	for r, n := range ix.nodes {
		ix.free[r] = min(max(n.FreeCores, 0), max(n.TotalCores, 0))
		ix.mem[r] = n.FreeMemMB
		ix.remaining[r] = n.PilotEnd.Sub(now)
		maxCores = max(maxCores, ix.free[r])
		if !n.Draining {
			ends = append(ends, n.PilotEnd)
		}
	}
	slices.SortFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
	ends = slices.CompactFunc(ends, func(a, b time.Time) bool { return a.Equal(b) })
	ix.classes = make([]class, len(ends))
	words := maxCores/64 + 1
	for i, e := range ends {
		ix.classes[i] = class{
			remaining: e.Sub(now),
			buckets:   make([][]int32, maxCores+1),
			nonEmpty:  make([]uint64, words),
		}
	}
	for r, n := range ix.nodes {
		if n.Draining {
			ix.class[r] = -1
			ix.draining = append(ix.draining, int32(r))
			continue
		}
		ci, _ := slices.BinarySearchFunc(ends, n.PilotEnd, func(a, b time.Time) int { return a.Compare(b) })
		ix.class[r] = int32(ci)
		ix.classes[ci].add(ix.free[r], int32(r))
	}
	ix.most = make([]int, len(ix.classes)+1)
	ix.most[len(ix.classes)] = -1
	for ci := len(ix.classes) - 1; ci >= 0; ci-- {
		ix.most[ci] = max(ix.classes[ci].top(), ix.most[ci+1])
	}
	return ix
}

// updateMost recomputes most from class ci down, after ci lost cores.
func (ix *index) updateMost(ci int) {
	for ; ci >= 0; ci-- {
		m := max(ix.classes[ci].top(), ix.most[ci+1])
		if m == ix.most[ci] {
			return
		}
		ix.most[ci] = m
	}
}

// firstClass is the first class whose nodes have more than need left.
func (ix *index) firstClass(need time.Duration) int {
	i, _ := slices.BinarySearchFunc(ix.classes, need, func(c class, need time.Duration) int {
		if c.remaining > need {
			return 1
		}
		return -1
	})
	return i
}

// find is the best node for a task of c cores and m MB that needs more
// than need before its pilot ends: fewest free cores left, then the pilot
// that ends soonest (latest when late), then the lowest id.
func (ix *index) find(c int, m int64, need time.Duration, late bool) (int32, bool) {
	first := ix.firstClass(need)
	if c > ix.most[first] {
		return -1, false
	}
	best, bestF := int32(-1), -1
	try := func(cl *class) {
		for f := cl.next(c); f >= 0 && (bestF < 0 || f < bestF); f = cl.next(f + 1) {
			for _, r := range cl.buckets[f] {
				if ix.mem[r] >= m {
					best, bestF = r, f
					return
				}
			}
		}
	}
	if late {
		for ci := len(ix.classes) - 1; ci >= first && bestF != c; ci-- {
			try(&ix.classes[ci])
		}
	} else {
		for ci := first; ci < len(ix.classes) && bestF != c; ci++ {
			try(&ix.classes[ci])
		}
	}
	return best, best >= 0
}

// take gives c cores and m MB of node r to a task.
func (ix *index) take(r int32, c int, m int64) {
	ci := int(ix.class[r])
	cl := &ix.classes[ci]
	cl.remove(ix.free[r], r)
	ix.free[r] -= c
	ix.mem[r] -= m
	cl.add(ix.free[r], r)
	ix.updateMost(ci)
}

// findReserve is the node to hold for a starved task: among nodes that
// could ever hold it before their pilot ends, the one with the most free
// cores, then the soonest pilot end, then the lowest id.
func (ix *index) findReserve(c int, m int64, need time.Duration) (int32, bool) {
	best, bestF := int32(-1), -1
	for ci := ix.firstClass(need); ci < len(ix.classes); ci++ {
		cl := &ix.classes[ci]
		for f := len(cl.buckets) - 1; f > bestF; f-- {
			for _, r := range cl.buckets[f] {
				if n := ix.nodes[r]; n.TotalCores >= c && n.TotalMemMB >= m {
					best, bestF = r, f
					break
				}
			}
			if best >= 0 && bestF == f {
				break
			}
		}
	}
	return best, best >= 0
}

// reserve takes node r out of the index: nothing else is placed on it.
func (ix *index) reserve(r int32) {
	ci := int(ix.class[r])
	ix.classes[ci].remove(ix.free[r], r)
	ix.class[r] = -1
	ix.reserved = append(ix.reserved, r)
	ix.updateMost(ci)
}

// diagnose says why a task that find could not place waits. It looks at
// free cores only where a bitset answers (memory is the reason only when
// nodes with the time and the cores exist), so it costs O(classes).
func (ix *index) diagnose(c int, m int64, need time.Duration) Reason {
	first := ix.firstClass(need)
	if c <= ix.most[first] {
		return ReasonMemory
	}
	fits := func(r int32) bool { return ix.free[r] >= c && ix.mem[r] >= m }
	for _, r := range ix.reserved {
		if fits(r) && ix.remaining[r] > need {
			return ReasonReserved
		}
	}
	for ci := 0; ci < first; ci++ {
		if ix.classes[ci].next(c) >= 0 {
			return ReasonWalltime
		}
	}
	for _, r := range ix.draining {
		if fits(r) {
			return ReasonDraining
		}
	}
	return ReasonCores
}

func (cl *class) add(f int, r int32) {
	b := cl.buckets[f]
	i, _ := slices.BinarySearch(b, r)
	cl.buckets[f] = slices.Insert(b, i, r)
	cl.nonEmpty[f/64] |= 1 << (f % 64)
}

func (cl *class) remove(f int, r int32) {
	b := cl.buckets[f]
	i, _ := slices.BinarySearch(b, r)
	b = slices.Delete(b, i, i+1)
	cl.buckets[f] = b
	if len(b) == 0 {
		cl.nonEmpty[f/64] &^= 1 << (f % 64)
	}
}

// top is the largest non-empty bucket, or -1.
func (cl *class) top() int {
	for w := len(cl.nonEmpty) - 1; w >= 0; w-- {
		if word := cl.nonEmpty[w]; word != 0 {
			return w*64 + bits.Len64(word) - 1
		}
	}
	return -1
}

// next is the smallest non-empty bucket ≥ f, or -1.
func (cl *class) next(f int) int {
	if f < 0 {
		f = 0
	}
	w := f / 64
	if w >= len(cl.nonEmpty) {
		return -1
	}
	word := cl.nonEmpty[w] &^ (1<<(f%64) - 1)
	for {
		if word != 0 {
			return w*64 + bits.TrailingZeros64(word)
		}
		w++
		if w == len(cl.nonEmpty) {
			return -1
		}
		word = cl.nonEmpty[w]
	}
}
