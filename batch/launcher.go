package batch

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// Launcher keeps a campaign's pilots alive at one site: each Round lists
// the campaign's pilots, plans with PlanLaunch and submits what the plan
// says. Pilots it submitted stay tracked even when a listing misses them,
// until Tracker confirms them Gone, so one short answer from squeue never
// makes it submit a second wave. `pilot launch` calls Round in a loop.
//
// A Launcher is not safe for concurrent use.
type Launcher struct {
	Sched   Scheduler
	Request SubmitRequest // one pilot; Request.Name names the campaign's pilots
	Policy  LaunchPolicy
	Log     *slog.Logger // nil: slog.Default()

	tracker Tracker
	known   map[string]bool
}

// Round does one round at time now for the work that remains upstream. It
// returns the plan and the ids of the pilots it submitted. When a submit
// fails, the pilots submitted before it are returned with the error.
func (l *Launcher) Round(ctx context.Context, now time.Time, work Work) (LaunchPlan, []string, error) {
	log := l.Log
	if log == nil {
		log = slog.Default()
	}
	if l.known == nil {
		l.known = map[string]bool{}
	}
	listed, err := l.Sched.List(ctx, l.Request.Name)
	if err != nil {
		return LaunchPlan{}, nil, fmt.Errorf("list pilots %q: %w", l.Request.Name, err)
	}
	got := make(map[string]JobStatus, len(listed))
	for _, j := range listed {
		got[j.ID] = j
		l.known[j.ID] = true
	}
	ids := slices.Sorted(maps.Keys(l.known))
	statuses := l.tracker.Observe(ids, got)
	pilots := make([]JobStatus, 0, len(statuses))
	for _, id := range ids {
		j := statuses[id]
		if j.State == Gone {
			delete(l.known, id)
		}
		pilots = append(pilots, j)
	}
	plan := PlanLaunch(now, pilots, work, l.Policy)
	log.Info("launch round", "pilots", len(pilots), "submit", plan.Submit, "why", plan.Why)
	req := l.Request
	if plan.Nodes > 0 {
		req.Nodes = plan.Nodes
	}
	var submitted []string
	for range plan.Submit {
		id, err := l.Sched.Submit(ctx, req)
		if err != nil {
			return plan, submitted, fmt.Errorf("submit pilot %d of %d: %w", len(submitted)+1, plan.Submit, err)
		}
		l.known[id] = true
		submitted = append(submitted, id)
		log.Info("pilot submitted", "pilot", id, "name", req.Name, "nodes", req.Nodes)
	}
	return plan, submitted, nil
}
