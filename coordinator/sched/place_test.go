package sched

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func node(id string, cores, free int, end time.Duration) Node {
	return Node{ID: id, TotalCores: cores, FreeCores: free, TotalMemMB: 1 << 20, FreeMemMB: 1 << 20, PilotEnd: t0.Add(end)}
}

func pend(id string, cores int, est time.Duration) Task {
	return Task{ID: id, Cores: cores, Est: est, Key: "f/1", Since: t0}
}

func TestPlace(t *testing.T) {
	cfg := Config{Slack: 0.5, Margin: time.Minute}
	learned := DefaultEstimator()
	for range 5 {
		learned.Observe("slow/1", 10*time.Hour)
	}
	cases := []struct {
		name    string
		view    View
		pending []Task
		want    []Placement
		waiting map[Reason]int
		unsched []Reason
	}{
		{
			name:    "first fit: the lowest id with room, so high ids stay empty for wide tasks",
			view:    View{Nodes: []Node{node("c", 8, 2, 24*time.Hour), node("b", 8, 8, 24*time.Hour), node("a", 8, 3, 24*time.Hour)}},
			pending: []Task{pend("t", 3, time.Hour), pend("u", 4, time.Hour)},
			want:    []Placement{{"u", "b"}, {"t", "a"}},
		},
		{
			name:    "ties go to the pilot that ends soonest, then the lowest id",
			view:    View{Nodes: []Node{node("z", 8, 4, 24*time.Hour), node("y", 8, 4, 5*time.Hour), node("x", 8, 4, 5*time.Hour)}},
			pending: []Task{pend("t", 4, time.Hour)},
			want:    []Placement{{"t", "x"}},
		},
		{
			name:    "room only on the pilot that ends soonest",
			view:    View{Nodes: []Node{node("a", 8, 8, 5*time.Hour), node("b", 8, 0, 10*time.Hour), node("c", 8, 0, 20*time.Hour)}},
			pending: []Task{pend("t", 4, time.Hour)},
			want:    []Placement{{"t", "a"}},
		},
		{
			name:    "walltime: est*(1+slack)+margin must end before the pilot",
			view:    View{Nodes: []Node{node("a", 8, 8, 91*time.Minute+time.Second)}},
			pending: []Task{pend("fits", 1, time.Hour), pend("long", 1, time.Hour+time.Second)},
			want:    []Placement{{"fits", "a"}},
			waiting: map[Reason]int{ReasonWalltime: 1},
		},
		{
			name:    "wide tasks first, then long ones; short ones fill the tail",
			view:    View{Nodes: []Node{node("short", 4, 4, 2*time.Hour), node("long", 4, 4, 20*time.Hour)}},
			pending: []Task{pend("s", 4, 30*time.Minute), pend("l", 4, 5*time.Hour)},
			want:    []Placement{{"l", "long"}, {"s", "short"}},
		},
		{
			name: "draining nodes take nothing",
			view: View{Nodes: []Node{
				{ID: "d", TotalCores: 8, FreeCores: 8, TotalMemMB: 100, FreeMemMB: 100, PilotEnd: t0.Add(time.Hour * 24), Draining: true},
			}},
			pending: []Task{pend("t", 1, time.Minute)},
			waiting: map[Reason]int{ReasonDraining: 1},
		},
		{
			name: "memory",
			view: View{Nodes: []Node{
				{ID: "a", TotalCores: 8, FreeCores: 8, TotalMemMB: 1000, FreeMemMB: 100, PilotEnd: t0.Add(time.Hour * 24)},
			}},
			pending: []Task{{ID: "t", Cores: 1, MemMB: 500, Est: time.Minute}},
			waiting: map[Reason]int{ReasonMemory: 1},
		},
		{
			name:    "cores: full nodes",
			view:    View{Nodes: []Node{node("a", 8, 1, 24*time.Hour)}},
			pending: []Task{pend("a1", 1, time.Minute), pend("a2", 1, time.Minute), pend("b", 2, time.Minute)},
			want:    []Placement{{"a1", "a"}},
			waiting: map[Reason]int{ReasonCores: 2},
		},
		{
			name:    "fits no node: too many cores, and too long for every configured pilot",
			view:    View{Nodes: []Node{node("a", 8, 8, time.Hour)}, Shapes: []Shape{{Cores: 8, MemMB: 1 << 20, Walltime: 24 * time.Hour}}},
			pending: []Task{pend("wide", 9, time.Minute), pend("long", 1, 20*time.Hour)},
			unsched: []Reason{ReasonCores, ReasonWalltime},
		},
		{
			name:    "a learned estimate applies to a task with none",
			view:    View{Nodes: []Node{node("a", 8, 8, 2*time.Hour)}, Learned: learned},
			pending: []Task{{ID: "t", Cores: 1, Key: "slow/1"}},
			waiting: map[Reason]int{ReasonWalltime: 1},
		},
		{
			name:    "no estimate, no history: it may start, on the pilot that ends last",
			view:    View{Nodes: []Node{node("a", 8, 8, 2*time.Hour), node("b", 8, 8, 9*time.Hour)}, Learned: learned},
			pending: []Task{{ID: "t", Cores: 1, Key: "new/1"}},
			want:    []Placement{{"t", "b"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Place(c.view, c.pending, t0, cfg)
			if !slices.Equal(p.Placements, c.want) {
				t.Errorf("placements %v, want %v", p.Placements, c.want)
			}
			if c.waiting == nil {
				c.waiting = map[Reason]int{}
			}
			if fmt.Sprint(p.Waiting) != fmt.Sprint(c.waiting) {
				t.Errorf("waiting %v, want %v", p.Waiting, c.waiting)
			}
			var limits []Reason
			for _, u := range p.Unschedulable {
				limits = append(limits, u.Limit)
				if u.Detail == "" {
					t.Errorf("unschedulable %s has no detail", u.Task)
				}
			}
			if !slices.Equal(limits, c.unsched) {
				t.Errorf("unschedulable %v, want %v", p.Unschedulable, c.unsched)
			}
		})
	}
}

// A wide task that has waited past StarveAfter holds the node that frees
// up first; narrow tasks go elsewhere unless they end before it frees up
// (backfill), and once the node is free the wide task gets it.
func TestStarvedWideTaskReservesANode(t *testing.T) {
	cfg := Config{Slack: 0.5, Margin: time.Minute, StarveAfter: time.Hour, ReserveShare: 0.5}
	now := t0.Add(2 * time.Hour)
	wide := Task{ID: "wide", Cores: 8, Est: time.Hour, Since: t0}
	narrow := func(id string, est time.Duration) Task { return Task{ID: id, Cores: 1, Est: est, Since: now, Seq: 1} }
	a, b := node("a", 8, 2, 24*time.Hour), node("b", 8, 6, 24*time.Hour)
	a.BusyUntil, b.BusyUntil = now.Add(time.Hour), now.Add(3*time.Hour)
	view := View{Nodes: []Node{a, b}}

	p := Place(view, []Task{narrow("n1", time.Hour), wide, narrow("n2", time.Hour), narrow("short", 10*time.Minute), narrow("n3", time.Hour)}, now, cfg)
	if want := []Reservation{{Task: "wide", Node: "a", Until: now.Add(time.Hour), Spare: 0, SpareMemMB: 1 << 20}}; !slices.Equal(p.Reservations, want) {
		t.Fatalf("reservations %v, want %v", p.Reservations, want)
	}
	want := []Placement{{"n1", "b"}, {"n2", "b"}, {"n3", "b"}, {"short", "a"}}
	if !slices.Equal(p.Placements, want) {
		t.Fatalf("placements %v, want %v (only the short task backfills the reserved node a)", p.Placements, want)
	}
	// The next plan keeps the hold on a, though b now looks free sooner.
	held := view
	held.Held = p.Reservations
	held.Nodes = []Node{a, b}
	held.Nodes[1].BusyUntil = now.Add(10 * time.Minute)
	if p := Place(held, []Task{wide}, now, cfg); len(p.Reservations) != 1 || p.Reservations[0].Node != "a" {
		t.Fatalf("held reservation moved: %v", p.Reservations)
	}
	held.Held = nil
	if p := Place(held, []Task{wide}, now, cfg); len(p.Reservations) != 1 || p.Reservations[0].Node != "b" {
		t.Fatalf("with nothing held the reservation should go to b, which frees first: %v", p.Reservations)
	}

	p = Place(view, []Task{narrow("n1", time.Hour), narrow("n2", time.Hour), narrow("n3", time.Hour), narrow("n4", time.Hour), narrow("n5", time.Hour), narrow("n6", time.Hour), narrow("n7", time.Hour), wide}, now, cfg)
	if p.Waiting[ReasonReserved] != 1 || p.Waiting[ReasonCores] != 1 {
		t.Fatalf("waiting %v, want 1 reserved (n7) and 1 cores (wide)", p.Waiting)
	}

	view.Nodes[0].FreeCores, view.Nodes[0].BusyUntil = 8, time.Time{}
	p = Place(view, []Task{narrow("n3", time.Hour), wide}, now, cfg)
	if p.Placements[0] != (Placement{"wide", "a"}) {
		t.Fatalf("placements %v, want wide on a first", p.Placements)
	}
	cfg.StarveAfter = 0
	p = Place(View{Nodes: []Node{node("a", 8, 6, 24*time.Hour)}}, []Task{wide, narrow("n1", time.Hour)}, now, cfg)
	if len(p.Reservations) != 0 || len(p.Placements) != 1 {
		t.Fatalf("with starvation off: %+v", p)
	}
}

func TestPlaceIgnoresNodeOrder(t *testing.T) {
	view := View{Nodes: []Node{node("c", 8, 4, 5*time.Hour), node("a", 8, 4, 5*time.Hour), node("b", 8, 8, 9*time.Hour)}}
	pending := []Task{pend("1", 4, time.Hour), pend("2", 4, time.Hour), pend("3", 2, time.Hour)}
	want := Place(view, pending, t0, DefaultConfig())
	slices.Reverse(view.Nodes)
	got := Place(view, pending, t0, DefaultConfig())
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("node order changed the plan:\n%v\n%v", got, want)
	}
}

// NarrowStarveAfter keeps a narrow task that waited past StarveAfter in
// its place in the visiting order (widest first) until it waited that long.
func TestNarrowStarveAfter(t *testing.T) {
	cfg := Config{Slack: 0.5, Margin: time.Minute, StarveAfter: time.Hour}
	now := t0.Add(3 * time.Hour)
	view := View{Nodes: []Node{node("a", 8, 2, 24*time.Hour)}}
	old := Task{ID: "old", Cores: 1, Est: time.Hour, Since: t0}
	fresh := Task{ID: "fresh", Cores: 2, Est: time.Hour, Since: now, Seq: 1}
	for _, c := range []struct {
		narrowAfter time.Duration
		want        string
	}{{0, "old"}, {2 * time.Hour, "old"}, {4 * time.Hour, "fresh"}} {
		cfg.NarrowStarveAfter = c.narrowAfter
		p := Place(view, []Task{old, fresh}, now, cfg)
		if want := []Placement{{c.want, "a"}}; !slices.Equal(p.Placements, want) {
			t.Errorf("NarrowStarveAfter %s: placements %v, want %v", c.narrowAfter, p.Placements, want)
		}
	}
}

// A node held for a starved task that needs only part of it takes tasks
// that run past the reservation in the room the task leaves over, and no
// more, in this plan and the next: once the node's running tasks end, the
// starved task finds its cores free.
func TestReservedNodeSpareRoom(t *testing.T) {
	cfg := Config{Slack: 0.5, Margin: time.Minute, StarveAfter: time.Hour, ReserveShare: 0.5}
	now := t0.Add(2 * time.Hour)
	wide := Task{ID: "wide", Cores: 6, Est: time.Hour, Since: t0}
	long := func(id string) Task { return Task{ID: id, Cores: 1, Est: 5 * time.Hour, Since: now, Seq: 1} }
	a := node("a", 8, 3, 24*time.Hour) // 5 cores busy for another hour
	a.BusyUntil = now.Add(time.Hour)
	view := View{Nodes: []Node{a}}

	p := Place(view, []Task{wide, long("l1"), long("l2"), long("l3")}, now, cfg)
	want := []Placement{{"l1", "a"}, {"l2", "a"}}
	if !slices.Equal(p.Placements, want) || len(p.Reservations) != 1 || p.Reservations[0].Spare != 0 {
		t.Fatalf("placements %v, reservations %+v: want l1 and l2 in the 2 spare cores of a, none left", p.Placements, p.Reservations)
	}
	// The next plan: l1 and l2 run and keep a busy past the shadow, so
	// its BusyUntil moves later; the hold keeps its shadow and gives no
	// more spare room, and a task that would end by the later time but
	// not by the shadow does not backfill.
	view.Held = p.Reservations
	view.Nodes[0].FreeCores, view.Nodes[0].BusyUntil = 1, now.Add(5*time.Hour)
	medium := Task{ID: "medium", Cores: 1, Est: 2 * time.Hour, Since: now, Seq: 2}
	p = Place(view, []Task{wide, long("l3"), medium}, now, cfg)
	if len(p.Placements) != 0 || len(p.Reservations) != 1 || !p.Reservations[0].Until.Equal(now.Add(time.Hour)) {
		t.Fatalf("placements %v, reservations %+v: want nothing placed and the hold until +1h", p.Placements, p.Reservations)
	}
	// Once the first tasks end, the starved task starts beside l1 and l2.
	view.Held = p.Reservations
	view.Nodes[0].FreeCores = 6
	if p = Place(view, []Task{wide}, now.Add(time.Hour), cfg); !slices.Equal(p.Placements, []Placement{{"wide", "a"}}) {
		t.Fatalf("placements %v, want wide on a", p.Placements)
	}
}

// TestGuardLanes: a node runs at most one task wider than half of it.
// While one waits and the narrow work would fit beside the wide tasks
// (lanesBind), a node that runs no wide task is kept for it: narrow
// tasks leave it the wide task's cores, so it drains instead of narrow
// tasks taking every core it frees; a wide task that fits it may take it.
func TestGuardLanes(t *testing.T) {
	lane := node("a", 56, 27, 24*time.Hour)
	lane.AddTask(29, t0.Add(time.Hour), t0)
	free := node("b", 56, 20, 24*time.Hour)
	for range 3 {
		free.AddTask(12, t0.Add(10*time.Minute), t0) // narrow tasks
	}
	pending := []Task{pend("wide", 29, time.Hour)}
	for i := range 30 {
		pending = append(pending, pend(fmt.Sprintf("n%02d", i), 1, time.Hour))
	}
	on := func(plan Plan, n string) (k int) {
		for _, p := range plan.Placements {
			k += btoi(p.Node == n)
		}
		return k
	}
	cfg := DefaultConfig()
	cfg.StarveAfter = 0
	plan := Place(View{Nodes: []Node{lane, free}}, pending, t0, cfg)
	if on(plan, "a") != 27 || on(plan, "b") != 0 {
		t.Errorf("lanes bind: %d narrow tasks on the lane, %d on the node kept for the wide task, want 27 and 0: %v", on(plan, "a"), on(plan, "b"), plan.Placements)
	}
	if plan.Waiting[ReasonReserved] != 3 {
		t.Errorf("waiting %v, want the 3 narrow tasks the kept node refused as reserved", plan.Waiting)
	}
	cfg.GuardLanes = false
	if plan := Place(View{Nodes: []Node{lane, free}}, pending, t0, cfg); on(plan, "b") != 3 {
		t.Errorf("without the rule: %d narrow tasks on b, want 3", on(plan, "b"))
	}
	cfg.GuardLanes = true

	// Narrow work that would not fit beside the wide tasks: no node is kept.
	for i := range 100 {
		pending = append(pending, pend(fmt.Sprintf("m%03d", i), 1, 2*time.Hour))
	}
	if plan := Place(View{Nodes: []Node{lane, free}}, pending, t0, cfg); on(plan, "b") != 20 {
		t.Errorf("narrow work outweighs the lanes: %d narrow tasks on b, want 20", on(plan, "b"))
	}

	// A wide task that fits the kept node takes it.
	free.FreeCores = 30
	plan = Place(View{Nodes: []Node{lane, free}}, []Task{pend("w41", 41, time.Hour), pend("w29", 29, time.Hour)}, t0, cfg)
	want := []Placement{{"w29", "b"}}
	if !slices.Equal(plan.Placements, want) {
		t.Errorf("placements %v, want %v", plan.Placements, want)
	}
}

func TestNodeAddTask(t *testing.T) {
	n := Node{TotalCores: 56}
	n.AddTask(4, t0.Add(time.Hour), t0)
	n.AddTask(2, time.Time{}, t0)          // no known end: counts nothing
	n.AddTask(1, t0.Add(-time.Minute), t0) // overdue: nothing left
	n.AddTask(30, t0.Add(2*time.Hour), t0) // wide
	if n.Widest != 30 || !n.WideEnd.Equal(t0.Add(2*time.Hour)) || n.NarrowCoreS != 4*3600 {
		t.Errorf("got widest %d ending %v, narrow %g core-s; want 30, +2h, %d", n.Widest, n.WideEnd.Sub(t0), n.NarrowCoreS, 4*3600)
	}
}
