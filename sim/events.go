package sim

import (
	"container/heap"
	"time"
)

// eventKind orders the events of one instant: tasks that end at a pilot's
// last moment finish before it ends, and a new pilot joins after the old
// one has left.
type eventKind uint8

const (
	evTaskEnd eventKind = iota
	evNodeLost
	evPilotEnd
	evPilotArrive
)

type event struct {
	at      time.Duration // since the simulation's epoch
	kind    eventKind
	seq     uint64
	job     int32 // evTaskEnd
	attempt int   // evTaskEnd
	node    int32 // evNodeLost
	pilot   int32 // evPilotEnd
	slot    int32 // evPilotArrive
	nodes   int32 // evPilotArrive: the pilot's nodes; 0: its slot's
}

// events is the simulation's agenda, a min-heap by (at, kind, seq): the
// sequence number makes the order total, so runs are deterministic.
type events struct {
	h   eventHeap
	seq uint64
}

func (q *events) push(e event) {
	q.seq++
	e.seq = q.seq
	heap.Push(&q.h, e)
}

func (q *events) pop() event   { return heap.Pop(&q.h).(event) }
func (q *events) peek() *event { return &q.h[0] }
func (q *events) len() int     { return len(q.h) }

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	a, b := &h[i], &h[j]
	if a.at != b.at {
		return a.at < b.at
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.seq < b.seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
