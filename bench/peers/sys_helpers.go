package main

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// helperLine is a task as wqrun and daskrun.py read it: "CORES ARGV...".
func helperLine(env Env) func(int, Task) string {
	return func(i int, t Task) string {
		return strconv.Itoa(t.Cores) + " " + strings.Join(env.Argv(i, t), " ")
	}
}

// runHelper writes the tasks for a helper and runs it with the slots and
// the limit; the helper stops itself at the limit and says what finished,
// and command's own limit (a little later) is only a backstop.
func runHelper(ctx context.Context, env Env, w Workload, argv ...string) (Outcome, error) {
	list := filepath.Join(env.Dir, "tasks")
	if err := writeLines(list, w, helperLine(env)); err != nil {
		return Outcome{}, err
	}
	limit := env.Limit
	env.Limit += limit/4 + 30*time.Second
	argv = append(argv, list, strconv.Itoa(w.Slots), strconv.FormatFloat(limit.Seconds(), 'f', 0, 64))
	out, secs, capped, err := command(ctx, env, []string{"TMPDIR=" + env.Dir}, argv...)
	if err != nil {
		return Outcome{Wall: secs}, err
	}
	o, err := parseHelper(out)
	o.Wall = secs
	o.Capped = capped || o.Done+o.Failed < len(w.Tasks)
	return o, err
}

// Work Queue: a manager through the C library and one worker with every slot.
var wqSystem = System{
	Name: "workqueue",
	Skip: func(Workload) string { return "" },
	Run: func(ctx context.Context, env Env, w Workload) (Outcome, error) {
		return runHelper(ctx, env, w, filepath.Join(env.Helpers, "wqrun"))
	},
}

// Dask: a LocalCluster of process workers, subprocess tasks.
var daskSystem = System{
	Name: "dask",
	Skip: func(Workload) string { return "" },
	Run: func(ctx context.Context, env Env, w Workload) (Outcome, error) {
		return runHelper(ctx, env, w, env.Python, filepath.Join(env.Helpers, "daskrun.py"))
	},
}
