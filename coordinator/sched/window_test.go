package sched

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestLeaseRoom(t *testing.T) {
	cases := []struct {
		name                     string
		window, queued, walltime int
		want                     int
	}{
		{"empty ledger", 100, 0, 0, 100},
		{"half full", 100, 50, 0, 50},
		{"full", 100, 100, 0, 0},
		{"over full", 100, 130, 0, 0},
		{"full of tasks waiting for walltime", 100, 100, 100, 100},
		{"some waiting for walltime", 100, 100, 40, 40},
		{"walltime left out up to one window", 100, 250, 200, 0},
		{"one window of walltime, half a window of work", 100, 150, 100, 50},
		{"a stale count larger than the queue", 100, 30, 80, 100},
		{"no cluster", 0, 20, 20, 0},
		{"negative count", 100, 50, -5, 50},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := LeaseRoom(c.window, c.queued, c.walltime); got != c.want {
				t.Errorf("LeaseRoom(%d, %d, %d) = %d, want %d", c.window, c.queued, c.walltime, got, c.want)
			}
		})
	}
}

// TestLeaseRoomBounds: leasing the room never takes the ledger past two
// windows, nor past one window of tasks that can run now; with no task
// waiting for walltime it is the plain window rule.
func TestLeaseRoomBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		window := rapid.IntRange(0, 10000).Draw(t, "window")
		queued := rapid.IntRange(0, 30000).Draw(t, "queued")
		walltime := rapid.IntRange(0, queued).Draw(t, "walltime")
		room := LeaseRoom(window, queued, walltime)
		if room < 0 {
			t.Fatalf("negative room %d", room)
		}
		if room > 0 && queued+room > 2*window {
			t.Fatalf("room %d takes %d queued cores past two windows of %d", room, queued, window)
		}
		if room > 0 && queued-walltime+room > window {
			t.Fatalf("room %d takes %d cores of runnable work past the window %d", room, queued-walltime, window)
		}
		if plain := max(window-queued, 0); room < plain {
			t.Fatalf("room %d is less than the plain window rule's %d", room, plain)
		}
		if walltime == 0 && room != max(window-queued, 0) {
			t.Fatalf("with nothing waiting for walltime the room is %d, want %d", room, max(window-queued, 0))
		}
	})
}

// TestPlaceWaitingCores: a plan sums the cores of the tasks it leaves
// waiting by reason, which LeaseRoom takes for walltime.
func TestPlaceWaitingCores(t *testing.T) {
	v := View{Nodes: []Node{node("a", 8, 4, 2*time.Hour), node("b", 8, 2, 24*time.Hour)}}
	pending := []Task{
		pend("short", 1, 30*time.Minute),
		pend("long3", 3, 5*time.Hour), // room on a, no time there; none on b
		pend("long4", 4, 5*time.Hour),
		pend("wide", 6, 5*time.Hour), // no room anywhere
	}
	p := Place(v, pending, t0, Config{Slack: 0.5, Margin: time.Minute})
	if len(p.Placements) != 1 || p.Placements[0] != (Placement{"short", "a"}) {
		t.Errorf("placements %v, want short on a", p.Placements)
	}
	if got, want := fmt.Sprint(p.Waiting), fmt.Sprint(map[Reason]int{ReasonWalltime: 2, ReasonCores: 1}); got != want {
		t.Errorf("waiting %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(p.WaitingCores), fmt.Sprint(map[Reason]int{ReasonWalltime: 7, ReasonCores: 6}); got != want {
		t.Errorf("waiting cores %s, want %s", got, want)
	}
}

// TestPlanUnfit: the window leaves out tasks waiting for walltime, and
// tasks waiting for cores while the plan leaves cores idle, unless a
// starved task holds a node (its node must drain).
func TestPlanUnfit(t *testing.T) {
	waiting := map[Reason]int{ReasonWalltime: 10, ReasonCores: 100, ReasonReserved: 7}
	held := []Reservation{{Task: "w", Node: "n1"}}
	cases := []struct {
		name string
		plan Plan
		want int
	}{
		{"no core idle", Plan{WaitingCores: waiting}, 10},
		{"cores idle", Plan{WaitingCores: waiting, IdleCores: 3}, 110},
		{"cores idle, a starved task holds a node", Plan{WaitingCores: waiting, IdleCores: 3, Reservations: held}, 10},
		{"nothing waits", Plan{IdleCores: 3}, 0},
	}
	for _, c := range cases {
		if got := c.plan.Unfit(); got != c.want {
			t.Errorf("%s: Unfit = %d, want %d", c.name, got, c.want)
		}
	}
}

// TestPlaceIdleCores: a plan counts the free cores it leaves on the nodes
// that take work, not on draining ones; a 6-core task that fits none of
// the gaps waits for cores.
func TestPlaceIdleCores(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	end := now.Add(24 * time.Hour)
	nodes := []Node{
		{ID: "a", TotalCores: 8, FreeCores: 3, TotalMemMB: 1000, FreeMemMB: 1000, PilotEnd: end},
		{ID: "b", TotalCores: 8, FreeCores: 4, TotalMemMB: 1000, FreeMemMB: 1000, PilotEnd: end},
		{ID: "c", TotalCores: 8, FreeCores: 5, TotalMemMB: 1000, FreeMemMB: 1000, PilotEnd: end, Draining: true},
	}
	pending := []Task{
		{ID: "wide", Cores: 6, Est: time.Hour, Seq: 1},
		{ID: "narrow", Cores: 2, Est: time.Hour, Seq: 2},
	}
	plan := Place(View{Nodes: nodes}, pending, now, DefaultConfig())
	if len(plan.Placements) != 1 || plan.Placements[0].Task != "narrow" {
		t.Fatalf("placements %v, want only the narrow task", plan.Placements)
	}
	if plan.IdleCores != 5 || plan.WaitingCores[ReasonCores] != 6 || plan.Unfit() != 6 {
		t.Errorf("idle cores %d, waiting for cores %d, unfit %d; want 5, 6, 6", plan.IdleCores, plan.WaitingCores[ReasonCores], plan.Unfit())
	}
}
