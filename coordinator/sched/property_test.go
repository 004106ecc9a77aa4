package sched

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// genView draws a small cluster: a few pilots with their own end times,
// nodes partly busy, some draining, and a learned estimate or two.
func genView(t *rapid.T) View {
	var v View
	pilots := rapid.IntRange(1, 4).Draw(t, "pilots")
	for p := range pilots {
		end := time.Duration(rapid.IntRange(0, 48*60).Draw(t, "end_min")) * time.Minute
		cores := rapid.IntRange(1, 70).Draw(t, "cores")
		mem := int64(rapid.IntRange(0, 4096).Draw(t, "mem"))
		for i := range rapid.IntRange(1, 6).Draw(t, "nodes") {
			v.Nodes = append(v.Nodes, Node{
				ID:         fmt.Sprintf("p%d-n%d", p, i),
				TotalCores: cores,
				FreeCores:  rapid.IntRange(0, cores).Draw(t, "free"),
				TotalMemMB: mem,
				FreeMemMB:  int64(rapid.IntRange(0, int(mem)).Draw(t, "freemem")),
				PilotEnd:   t0.Add(end),
				Draining:   rapid.IntRange(0, 9).Draw(t, "draining") == 0,
				BusyUntil:  t0.Add(time.Duration(rapid.IntRange(-1, 600).Draw(t, "busy_min")) * time.Minute),
			})
			n := &v.Nodes[len(v.Nodes)-1]
			for range rapid.IntRange(0, 3).Draw(t, "running") {
				n.AddTask(rapid.IntRange(1, cores).Draw(t, "running_cores"), t0.Add(time.Duration(rapid.IntRange(0, 600).Draw(t, "running_min"))*time.Minute), t0)
			}
		}
	}
	if rapid.Bool().Draw(t, "shapes") {
		v.Shapes = []Shape{{Cores: 64, MemMB: 4096, Walltime: 24 * time.Hour}}
	}
	v.Learned = DefaultEstimator()
	for range rapid.IntRange(0, 12).Draw(t, "observations") {
		v.Learned.Observe(fmt.Sprintf("f/%d", rapid.IntRange(0, 2).Draw(t, "fn")), time.Duration(rapid.IntRange(1, 600).Draw(t, "obs_min"))*time.Minute)
	}
	return v
}

func genPending(t *rapid.T) []Task {
	n := rapid.IntRange(0, 60).Draw(t, "tasks")
	out := make([]Task, n)
	for i := range out {
		est := time.Duration(rapid.IntRange(0, 30*60).Draw(t, "est_min")) * time.Minute
		if rapid.IntRange(0, 3).Draw(t, "noest") == 0 {
			est = 0
		}
		out[i] = Task{
			ID:    fmt.Sprintf("t%d", i),
			Cores: rapid.IntRange(1, 72).Draw(t, "cores"),
			MemMB: int64(rapid.IntRange(0, 2048).Draw(t, "mem")),
			Est:   est,
			Key:   fmt.Sprintf("f/%d", rapid.IntRange(0, 3).Draw(t, "fn")),
			Since: t0.Add(-time.Duration(rapid.IntRange(0, 120).Draw(t, "waited_min")) * time.Minute),
			Seq:   uint64(i),
		}
	}
	return out
}

func genConfig(t *rapid.T) Config {
	return Config{
		Slack:        float64(rapid.IntRange(0, 100).Draw(t, "slack_pct")) / 100,
		Margin:       time.Duration(rapid.IntRange(0, 30).Draw(t, "margin_min")) * time.Minute,
		StarveAfter:  time.Duration(rapid.IntRange(0, 90).Draw(t, "starve_min")) * time.Minute,
		ReserveShare: float64(rapid.IntRange(0, 50).Draw(t, "reserve_pct")) / 100,
		GuardLanes:   rapid.Bool().Draw(t, "guard_lanes"),
	}
}

// need is the walltime rule written out independently of Place.
func need(v View, tk Task, cfg Config) (time.Duration, bool) {
	est, ok := tk.Est, tk.Est > 0
	if !ok {
		est, ok = v.Learned.Estimate(tk.Key)
	}
	if !ok {
		return cfg.Margin, false
	}
	return time.Duration(float64(est)*(1+cfg.Slack)) + cfg.Margin, true
}

// TestPlaceProperties: no oversubscription of cores or memory, the
// walltime rule, no draining or reserved node used, each task decided at
// most once, work conservation (no waiting task fits the capacity left on
// an unreserved node), unschedulable tasks really fit nowhere, and the
// same input gives the same plan whatever the node order.
func TestPlaceProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v, pending, cfg := genView(t), genPending(t), genConfig(t)
		plan := Place(v, pending, t0, cfg)
		checkPlan(t, v, pending, cfg, plan)
		// The next plan, with this one's reservations held.
		v.Held = plan.Reservations
		checkPlan(t, v, pending, cfg, Place(v, pending, t0, cfg))
	})
}

func checkPlan(t *rapid.T, v View, pending []Task, cfg Config, plan Plan) {
	nodes := map[string]Node{}
	for _, n := range v.Nodes {
		nodes[n.ID] = n
	}
	tasks := map[string]Task{}
	for _, tk := range pending {
		tasks[tk.ID] = tk
	}
	reserved := map[string]bool{}
	reservation := map[string]Reservation{}
	for _, r := range plan.Reservations {
		if reserved[r.Node] {
			t.Fatalf("node %s reserved twice", r.Node)
		}
		reserved[r.Node] = true
		reservation[r.Node] = r
	}
	decided := map[string]bool{}
	type use struct {
		cores int
		mem   int64
	}
	spare := map[string]use{} // on reserved nodes, by tasks that may run past the reservation
	// room is what such tasks may use: the node's size less the starved
	// task's, or what is left of it when the last plan held the node.
	room := map[string]use{}
	prior := map[string]Reservation{}
	for _, r := range v.Held {
		prior[r.Task] = r
	}
	for _, r := range plan.Reservations {
		n, tk := nodes[r.Node], tasks[r.Task]
		u := use{n.TotalCores - tk.Cores, n.TotalMemMB - tk.MemMB}
		if h, ok := prior[r.Task]; ok && h.Node == r.Node {
			u = use{min(u.cores, h.Spare), min(u.mem, h.SpareMemMB)}
		}
		room[r.Node] = u
	}
	for i, p := range plan.Placements {
		tk, n := tasks[p.Task], nodes[p.Node]
		if decided[p.Task] {
			t.Fatalf("task %s placed twice", p.Task)
		}
		decided[p.Task] = true
		if n.Draining {
			t.Fatalf("task %s placed on draining node %+v", p.Task, n)
		}
		if res, ok := reservation[p.Node]; ok && i >= res.After {
			// Backfill: the task ends by the reservation's time, or it
			// and the others that may not leave the starved task its
			// cores and memory once the node is free.
			if d, known := need(v, tk, cfg); !known || t0.Add(d).After(res.Until) {
				s := spare[p.Node]
				s.cores += tk.Cores
				s.mem += tk.MemMB
				spare[p.Node] = s
				if s.cores > room[p.Node].cores || s.mem > room[p.Node].mem {
					t.Fatalf("task %+v (need %s) backfilled on node %s reserved until +%s for task %+v: tasks that may run past it use %d cores, %d MB of %+v", tk, d, n.ID, res.Until.Sub(t0), tasks[res.Task], s.cores, s.mem, room[p.Node])
				}
			}
		}
		if d, _ := need(v, tk, cfg); !t0.Add(d).Before(n.PilotEnd) {
			t.Fatalf("walltime rule broken: task %+v needs %s, node %s ends at +%s", tk, d, n.ID, n.PilotEnd.Sub(t0))
		}
		n.FreeCores -= tk.Cores
		n.FreeMemMB -= tk.MemMB
		if n.FreeCores < 0 || n.FreeMemMB < 0 {
			t.Fatalf("node %s oversubscribed by task %+v: %+v", n.ID, tk, n)
		}
		nodes[p.Node] = n
	}
	for _, u := range plan.Unschedulable {
		tk := tasks[u.Task]
		if decided[u.Task] {
			t.Fatalf("task %s both placed and unschedulable", u.Task)
		}
		decided[u.Task] = true
		d, _ := need(v, tk, cfg)
		for _, n := range v.Nodes {
			if n.TotalCores >= tk.Cores && n.TotalMemMB >= tk.MemMB && (len(v.Shapes) == 0 || t0.Add(d).Before(n.PilotEnd)) {
				t.Fatalf("task %+v unschedulable (%s) but fits node %+v", tk, u.Detail, n)
			}
		}
	}
	for _, r := range plan.Reservations {
		if u := room[r.Node]; r.Spare != u.cores-spare[r.Node].cores || r.SpareMemMB != u.mem-spare[r.Node].mem || r.Spare < 0 {
			t.Fatalf("reservation %+v: its spare room should be %d cores, %d MB less the %+v backfilled past it", r, u.cores, u.mem, spare[r.Node])
		}
	}
	waiting := 0
	for _, c := range plan.Waiting {
		waiting += c
	}
	if waiting+len(decided) != len(pending) {
		t.Fatalf("%d waiting + %d decided != %d pending", waiting, len(decided), len(pending))
	}
	kept := map[string]Keep{}
	for _, k := range plan.Kept {
		if _, twice := kept[k.Node]; twice || reserved[k.Node] || !cfg.GuardLanes {
			t.Fatalf("node %s kept twice, kept and reserved, or kept with the rule off: %+v", k.Node, plan)
		}
		kept[k.Node] = k
	}
	for _, tk := range pending {
		if decided[tk.ID] {
			continue
		}
		d, known := need(v, tk, cfg)
		for _, n := range nodes {
			if k, ok := kept[n.ID]; ok && 2*tk.Cores <= n.TotalCores && (n.FreeCores-tk.Cores < k.Cores || n.FreeMemMB-tk.MemMB < k.MemMB) {
				continue // the room a wide task waits for
			}
			res := reservation[n.ID]
			left := room[n.ID].cores - spare[n.ID].cores
			leftMem := room[n.ID].mem - spare[n.ID].mem
			backfill := known && reserved[n.ID] && (!t0.Add(d).After(res.Until) || (tk.Cores <= left && tk.MemMB <= leftMem))
			if !n.Draining && (!reserved[n.ID] || backfill) && n.FreeCores >= tk.Cores && n.FreeMemMB >= tk.MemMB && t0.Add(d).Before(n.PilotEnd) {
				t.Fatalf("task %+v waits but fits the room left on node %+v", tk, n)
			}
		}
	}

	again := Place(v, pending, t0, cfg)
	shuffled := slices.Clone(v.Nodes)
	perm := rapid.Permutation(shuffled).Draw(t, "node_order")
	v.Nodes = perm
	if rapid.Bool().Draw(t, "reverse_pending") {
		// Place must not depend on how the caller orders pending
		// tasks either (Seq decides ties).
		pending = slices.Clone(pending)
		slices.Reverse(pending)
	}
	third := Place(v, pending, t0, cfg)
	if fmt.Sprint(again) != fmt.Sprint(plan) || fmt.Sprint(third) != fmt.Sprint(plan) {
		t.Fatalf("same input, different plans:\n%v\n%v\n%v", plan, again, third)
	}
}
