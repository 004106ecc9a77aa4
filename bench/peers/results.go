package main

import (
	"fmt"
	"io"
	"strconv"
)

// Results gathers the outcomes per workload and system.
type Results struct {
	out  map[key][]Outcome
	errs map[key][]error
	lb   map[string]float64
	ref  map[string]float64 // zero-overhead greedy makespan / lower bound
}

type key struct{ workload, system string }

// NewResults is an empty set of results.
func NewResults() *Results {
	return &Results{out: map[key][]Outcome{}, errs: map[key][]error{}, lb: map[string]float64{}, ref: map[string]float64{}}
}

// Add records one run's outcome.
func (r *Results) Add(run Run, o Outcome) {
	k := key{run.W.Name, run.S.Name}
	r.out[k] = append(r.out[k], o)
	if _, ok := r.ref[run.W.Name]; !ok && run.W.Sleeps() {
		r.lb[run.W.Name] = run.W.LowerBound()
		r.ref[run.W.Name] = run.W.GreedyMakespan() / run.W.LowerBound()
	}
}

// Err records a run that failed.
func (r *Results) Err(run Run, err error) {
	k := key{run.W.Name, run.S.Name}
	r.errs[k] = append(r.errs[k], err)
}

// figure collects one number from every outcome of a key; pick returns
// false to leave an outcome out.
func (r *Results) figure(k key, pick func(Outcome) (float64, bool)) Summary {
	var xs []float64
	for _, o := range r.out[k] {
		if x, ok := pick(o); ok {
			xs = append(xs, x)
		}
	}
	return Summarize(xs)
}

func rate(o Outcome) (float64, bool)  { return float64(o.Done) / o.Wall, o.Wall > 0 }
func inner(o Outcome) (float64, bool) { return float64(o.Done) / o.Inner, o.Inner > 0 }
func wall(o Outcome) (float64, bool)  { return o.Wall, true }

// Table prints one row per workload and system, as a Markdown table.
func (r *Results) Table(w io.Writer, wls []Workload, syss []System) {
	fmt.Fprintln(w, "| system | workload | tasks | seconds | tasks/s | tasks/s (inner) | makespan / lower bound |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
	for _, wl := range wls {
		for _, s := range syss {
			k := key{wl.Name, s.Name}
			outs := r.out[k]
			if len(outs) == 0 {
				if errs := r.errs[k]; len(errs) > 0 {
					fmt.Fprintf(w, "| %s | %s | %d | failed: %v | | | |\n", s.Name, wl.Name, len(wl.Tasks), errs[0])
				}
				continue
			}
			tasks := strconv.Itoa(len(wl.Tasks))
			if done := r.figure(k, func(o Outcome) (float64, bool) { return float64(o.Done), o.Capped }); done.N > 0 {
				tasks += fmt.Sprintf("; %d of %d run(s) stopped at the limit, %.0f done", done.N, len(outs), done.Median)
			}
			if n := len(r.errs[k]); n > 0 {
				tasks += fmt.Sprintf(" (%d run(s) failed)", n)
			}
			span := "-"
			if wl.Sleeps() {
				span = r.figure(k, func(o Outcome) (float64, bool) { return o.Span / wl.LowerBound(), o.Span > 0 }).Format(3)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", s.Name, wl.Name, tasks,
				r.figure(k, wall).Format(2), r.figure(k, rate).Format(0), r.figure(k, inner).Format(0), span)
		}
	}
}

// Targets prints the three ratios for pilot, from this run's medians.
func (r *Results) Targets(w io.Writer) {
	med := func(wl, sys string, f func(Outcome) (float64, bool)) float64 {
		return r.figure(key{wl, sys}, f).Median
	}
	fmt.Fprintln(w)
	if p, x := med("noop", "pilot", rate), med("noop", "xargs", rate); p > 0 && x > 0 {
		fmt.Fprintf(w, "noop: pilot / xargs -P 2 = %.2f on whole-command time (%.2f with pilot's inner time); target ≥ 0.9: %s\n",
			p/x, med("noop", "pilot", inner)/x, verdict(p/x >= 0.9))
	}
	if lb := r.lb["pack"]; lb > 0 {
		if s := med("pack", "pilot", func(o Outcome) (float64, bool) { return o.Span / lb, o.Span > 0 }); s > 0 {
			fmt.Fprintf(w, "pack: pilot makespan / lower bound = %.3f; target ≤ 1.02: %s (a zero-overhead greedy backfill of these tasks: %.3f)\n",
				s, verdict(s <= 1.02), r.ref["pack"])
		}
	}
	if d, n := med("deep", "pilot", rate), med("noop", "pilot", rate); d > 0 && n > 0 {
		fmt.Fprintf(w, "deep: pilot deep / noop tasks/s = %.2f on whole-command time (%.2f on inner); target ≥ 0.9: %s\n",
			d/n, med("deep", "pilot", inner)/med("noop", "pilot", inner), verdict(d/n >= 0.9))
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
