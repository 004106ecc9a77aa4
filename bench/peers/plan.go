package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Run is one system on one workload in one round.
type Run struct {
	Round int
	W     Workload
	S     System
}

// Plan is every run in the order they go: round by round, workload by
// workload, the systems in an order that rotates each round (A B C, B C A, …)
// so none always runs first or right after another; then the floor rounds,
// noop for pilot and xargs alone, alternating.
type Plan struct {
	Runs    []Run
	Skipped []string
	Est     time.Duration
	cfg     Config
}

// prior is a rough guess of a system's rate on `true` and its start-up (as
// seen on a quiet 2-CPU machine), for the plan's time estimate only;
// nothing is measured from it.
var prior = map[string]struct{ rate, startup float64 }{
	"pilot": {1500, 0.1}, "xargs": {2000, 0}, "workqueue": {70, 1},
	"dask": {450, 5}, "tsp": {800, 0}, "parallel": {400, 0},
}

// NewPlan lays out the runs and estimates how long they take.
func NewPlan(cfg Config, wls []Workload, syss []System) Plan {
	p := Plan{cfg: cfg}
	for _, w := range wls {
		for _, s := range syss {
			if why := s.Skip(w); why != "" {
				p.Skipped = append(p.Skipped, fmt.Sprintf("%s on %s (%s)", s.Name, w.Name, why))
			}
		}
	}
	for round := 1; round <= cfg.Rounds; round++ {
		for _, w := range wls {
			if w.Name == "deep" && round > cfg.DeepRounds {
				continue
			}
			for i := range syss {
				s := syss[(i+round-1)%len(syss)]
				if s.Skip(w) != "" {
					continue
				}
				p.Runs = append(p.Runs, Run{Round: round, W: w, S: s})
				p.Est += p.estimate(w, s)
			}
		}
	}
	var floor []System
	for _, s := range syss {
		if s.Name == "pilot" || s.Name == "xargs" {
			floor = append(floor, s)
		}
	}
	for _, w := range wls {
		if w.Name != "noop" || len(floor) == 0 {
			continue
		}
		for round := cfg.Rounds + 1; round <= cfg.Rounds+cfg.FloorRounds; round++ {
			for i := range floor {
				s := floor[(i+round-1)%len(floor)]
				p.Runs = append(p.Runs, Run{Round: round, W: w, S: s})
				p.Est += p.estimate(w, s)
			}
		}
	}
	return p
}

// estimate guesses one run's time from prior, within its limit.
func (p Plan) estimate(w Workload, s System) time.Duration {
	pr := prior[s.Name]
	secs := pr.startup + float64(len(w.Tasks))/pr.rate
	if w.Sleeps() {
		secs = pr.startup + 1.1*w.LowerBound()
	}
	limit := p.cfg.Limit
	if s.Name == "pilot" || s.Name == "xargs" {
		limit = p.cfg.FloorLimit
	}
	return min(time.Duration(secs*float64(time.Second)), limit)
}

// Print says what will run, the estimate and the budget.
func (p Plan) Print(w io.Writer) {
	fmt.Fprintf(w, "bench-peers plan: %d runs in %d round(s), deep in %d; estimated %s, budget %s (no run starts after it)\n",
		len(p.Runs), p.cfg.Rounds, min(p.cfg.Rounds, p.cfg.DeepRounds), p.Est.Round(time.Second), p.cfg.Budget)
	seen := map[string]bool{}
	for _, r := range p.Runs {
		if seen[r.W.Name] {
			continue
		}
		seen[r.W.Name] = true
		var names []string
		for _, q := range p.Runs {
			if q.Round == 1 && q.W.Name == r.W.Name {
				names = append(names, q.S.Name)
			}
		}
		lb := ""
		if r.W.Sleeps() {
			lb = fmt.Sprintf(", lower bound %.2fs (a zero-overhead greedy backfill: %.3f×)", r.W.LowerBound(), r.W.GreedyMakespan()/r.W.LowerBound())
		}
		fmt.Fprintf(w, "  %-7s %6d tasks on %d slots%s: %s\n", r.W.Name, len(r.W.Tasks), r.W.Slots, lb, strings.Join(names, " "))
	}
	if p.cfg.FloorRounds > 0 {
		fmt.Fprintf(w, "  then %d more rounds of noop for pilot and xargs alone, alternating\n", p.cfg.FloorRounds)
	}
	for _, s := range p.Skipped {
		fmt.Fprintf(w, "  skipped: %s\n", s)
	}
	fmt.Fprintf(w, "  limits: a peer's run stops after %s (its rate counts what finished), pilot's and xargs's after %s\n",
		p.cfg.Limit, p.cfg.FloorLimit)
}
