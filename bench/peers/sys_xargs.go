package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
)

// oneSlotOnly is the Skip of the systems that cannot give a task two slots.
func oneSlotOnly(w Workload) string {
	if w.MultiSlot() {
		return "no multi-slot tasks"
	}
	return ""
}

// xargs -P: the fork/exec floor. Each input line is the task's one argument
// (an ignored placeholder for `true`, the duration for stamp).
var xargsSystem = System{
	Name: "xargs",
	Skip: oneSlotOnly,
	Run: func(ctx context.Context, env Env, w Workload) (Outcome, error) {
		list := filepath.Join(env.Dir, "args")
		if err := writeLines(list, w, argLine); err != nil {
			return Outcome{}, err
		}
		argv := []string{"xargs", "-P", strconv.Itoa(w.Slots), "-n", "1", "-a", list, "true"}
		if w.Sleeps() {
			argv = []string{"xargs", "-P", strconv.Itoa(w.Slots), "-n", "2", "-a", list, env.Stamp(), env.StampFile()}
		}
		_, secs, capped, err := command(ctx, env, nil, argv...)
		return allOrNothing(w, secs, capped), err
	},
}

// argLine is what xargs and parallel add to the command of task i: the
// arguments after `true` or after `stamp FILE` in Env.Argv.
func argLine(i int, t Task) string {
	if t.Dur == 0 {
		return strconv.Itoa(i)
	}
	return strconv.FormatFloat(t.Dur, 'f', 3, 64) + " " + strconv.Itoa(i)
}

// allOrNothing is the outcome of a tool that reports only success or not:
// success means every task ran (a failure has already returned an error).
func allOrNothing(w Workload, secs float64, capped bool) Outcome {
	o := Outcome{Wall: secs, Capped: capped}
	if !capped {
		o.Done = len(w.Tasks)
	}
	return o
}

// parallel: GNU parallel with -j slots, the same input as xargs; its job log
// says how many tasks ended when a run is stopped at the limit.
var parallelSystem = System{
	Name: "parallel",
	Skip: oneSlotOnly,
	Run: func(ctx context.Context, env Env, w Workload) (Outcome, error) {
		list := filepath.Join(env.Dir, "args")
		if err := writeLines(list, w, argLine); err != nil {
			return Outcome{}, err
		}
		joblog := filepath.Join(env.Dir, "joblog")
		argv := []string{"parallel", "--will-cite", "--joblog", joblog, "-j", strconv.Itoa(w.Slots)}
		if w.Sleeps() {
			argv = append(argv, "--colsep", " ", env.Stamp(), env.StampFile(), "{1}", "{2}", "::::", list)
		} else {
			argv = append(argv, "true", "{}", "::::", list)
		}
		_, secs, capped, err := command(ctx, env, nil, argv...)
		if err != nil {
			return Outcome{}, fmt.Errorf("parallel: %w", err)
		}
		o := allOrNothing(w, secs, capped)
		if capped {
			n, err := countLines(joblog)
			o.Done = max(n-1, 0) // the first line is the header
			return o, err
		}
		return o, nil
	},
}
