package scratchcache_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/pilot-hpc/pilot/scratchcache"
	"github.com/pilot-hpc/pilot/task"
)

// How the agent runs one assigned attempt of a task through the cache.
func Example() {
	root, _ := os.MkdirTemp("", "scratch")
	defer os.RemoveAll(root)
	cache, err := scratchcache.New(scratchcache.Config{Root: root})
	if err != nil {
		panic(err)
	}
	spec := task.Spec{ID: "mol-1", Cmd: []string{"sh", "-c", `echo 'H1 7.26' > "$PILOT_OUTDIR/shifts.out"; echo '{"ppm":7.26}'`}}

	runAttempt := func(attempt int) task.Result {
		res := task.Result{ID: spec.ID, Attempts: attempt}
		sealed, lease, err := cache.Open(spec.ID, spec.Digest(), attempt)
		switch {
		case errors.Is(err, scratchcache.ErrFenced):
			return res // a newer attempt owns the task: report nothing
		case err != nil:
			res.State, res.Error = task.StateFailed, "infra: "+err.Error() // ErrHeld, ErrInfra: retry later
			return res
		case sealed != nil:
			res.State, res.Cache, res.Value, res.Output = task.StateDone, task.CacheHit, sealed.Value, sealed.Output
			return res
		}
		ctx, stop := context.WithCancel(context.Background())
		kept := make(chan error, 1)
		go func() { kept <- lease.Keep(ctx) }()
		cmd := exec.CommandContext(ctx, spec.Cmd[0], spec.Cmd[1:]...)
		cmd.Dir = lease.WorkDir()
		cmd.Env = append(os.Environ(), lease.Env()...)
		out, runErr := cmd.Output()
		if runErr != nil {
			stop()
			<-kept
			_ = lease.Release() // work/ stays for the retry
			res.State, res.Error = task.StateFailed, runErr.Error()
			return res
		}
		sealed, err = lease.Seal(ctx, out)
		stop()
		<-kept
		if err != nil {
			_ = lease.Release()
			res.State, res.Error = task.StateFailed, "infra: "+err.Error()
			return res
		}
		res.State, res.Cache, res.Value, res.Output = task.StateDone, task.CacheMiss, sealed.Value, sealed.Output
		b, _ := os.ReadFile(sealed.Path("shifts.out"))
		fmt.Printf("sealed shifts.out: %s", b)
		return res
	}

	first := runAttempt(1)
	fmt.Println(first.State, first.Cache, string(first.Value))
	again := runAttempt(2)
	fmt.Println(again.State, again.Cache, string(again.Value))
	// Output:
	// sealed shifts.out: H1 7.26
	// done miss {"ppm":7.26}
	// done hit {"ppm":7.26}
}
