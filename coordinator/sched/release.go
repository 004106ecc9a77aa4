package sched

import (
	"slices"
	"time"
)

// Releasable names the pilots that may give back their allocation now,
// in name order: every node of theirs is idle (nothing assigned or
// running: FreeCores at least TotalCores) and not draining yet, their
// end is known, and no pending task could start on one of their nodes
// before that end (its cores, memory and, by the walltime rule, its
// time; a task with no estimate needs only Margin). Such a pilot would
// hold its nodes idle until its walltime.
//
// One pilot always stays: when every pilot that is not draining could be
// released, the one that ends last is not named. The cluster keeps a
// node to hold the ledger, answer status and take the tasks no pilot
// could run when a pilot with the time for them joins; the launcher adds
// that pilot (batch.PlanLaunch), or the user does.
//
// Callers ask only once upstream has no more tasks to lease and some
// task is not final yet (pending here, or running elsewhere): with more
// work to come any pilot may get some, and with none left the launcher
// ends every pilot. The leader marks a releasable pilot draining, its
// agents leave, and its Slurm job ends; the simulator ends the pilot
// there. pending is what Place was handed in the same round; a task the
// round placed fits its node, so its pilot is never named.
func Releasable(nodes []Node, pending []Task, learned *Estimator, now time.Time, cfg Config) []string {
	type pilot struct {
		left         time.Duration
		cores        int
		mem          int64
		idle, nodeOK bool
		all          bool // every node draining
	}
	pilots := map[string]*pilot{}
	unnamed := false
	for i := range nodes {
		n := &nodes[i]
		if n.Pilot == "" {
			unnamed = unnamed || !n.Draining // a live node of no pilot
			continue
		}
		p := pilots[n.Pilot]
		if p == nil {
			p = &pilot{left: n.PilotEnd.Sub(now), idle: true, nodeOK: true, all: true}
			pilots[n.Pilot] = p
		}
		p.all = p.all && n.Draining
		p.idle = p.idle && n.FreeCores >= n.TotalCores && !n.Draining
		p.nodeOK = p.nodeOK && !n.PilotEnd.IsZero()
		p.left = max(p.left, n.PilotEnd.Sub(now))
		p.cores, p.mem = max(p.cores, n.TotalCores), max(p.mem, n.TotalMemMB)
	}
	var out []string
	live := btoi(unnamed)
	for _, p := range pilots {
		live += btoi(!p.all)
	}
	for name, p := range pilots {
		if !p.idle || !p.nodeOK {
			continue
		}
		fits := slices.ContainsFunc(pending, func(t Task) bool {
			need, _ := needOf(&t, learned, cfg)
			return t.Cores <= p.cores && t.MemMB <= p.mem && need < p.left
		})
		if !fits {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	if len(out) > 0 && len(out) == live { // every live node would go
		// Keep the pilot that ends last (the first name among equals).
		keep := 0
		for i, name := range out {
			if pilots[name].left > pilots[out[keep]].left {
				keep = i
			}
		}
		out = slices.Delete(out, keep, keep+1)
	}
	return out
}
