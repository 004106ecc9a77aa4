package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// task-spooler: a private server (its socket in the run's directory) with
// the workload's slots; one `tsp` client call per task, as users submit;
// then a last job that needs every slot, which starts only when every job
// before it has ended, and `tsp -w`, which waits for the last job.
var tspSystem = System{
	Name: "tsp",
	Skip: func(w Workload) string {
		if len(w.Tasks) > 10000 {
			return "every queued job is a waiting tsp process"
		}
		return ""
	},
	Run: func(ctx context.Context, env Env, w Workload) (Outcome, error) {
		envv := []string{"TS_SOCKET=" + filepath.Join(env.Dir, "tsp.sock"), "TMPDIR=" + env.Dir, "TS_MAXFINISHED=100000"}
		start := time.Now()
		elapsed := func() float64 { return time.Since(start).Seconds() }
		defer func() { _, _, _, _ = command(context.WithoutCancel(ctx), env, envv, "tsp", "-K") }() // the server may be gone already
		if _, _, _, err := command(ctx, env, envv, "tsp", "-S", strconv.Itoa(w.Slots)); err != nil {
			return Outcome{}, err
		}
		deadline := env
		for i, t := range w.Tasks {
			deadline.Limit = env.Limit - time.Since(start)
			if deadline.Limit <= 0 {
				return Outcome{Wall: elapsed(), Capped: true}, nil
			}
			argv := append([]string{"tsp", "-n", "-N", strconv.Itoa(t.Cores)}, env.Argv(i, t)...)
			if _, _, capped, err := command(ctx, deadline, envv, argv...); err != nil || capped {
				return Outcome{Wall: elapsed(), Capped: capped}, errOrNil(err, i)
			}
		}
		if _, _, _, err := command(ctx, env, envv, "tsp", "-n", "-N", strconv.Itoa(w.Slots), "true"); err != nil {
			return Outcome{}, err
		}
		deadline.Limit = env.Limit - time.Since(start)
		// With no id, -w waits for the last job: the barrier.
		if _, _, capped, err := command(ctx, deadline, envv, "tsp", "-w"); err != nil || capped {
			return Outcome{Wall: elapsed(), Capped: capped}, err
		}
		return Outcome{Wall: elapsed(), Done: len(w.Tasks)}, nil
	},
}

func errOrNil(err error, i int) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("submitting task %d: %w", i, err)
}
