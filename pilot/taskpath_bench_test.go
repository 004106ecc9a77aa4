package pilot

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pilot-hpc/pilot/pilot/runner"
	"github.com/pilot-hpc/pilot/scratchcache"
	"github.com/pilot-hpc/pilot/task"
)

// The floors under the agent's rate on short tasks: `true <id>` run two at
// a time, each pinned to its core, as `pilot local --nodes 1
// --cores-per-node 2` runs them, first by the runner alone, then with each
// task's scratch cache entry. Beside `xargs -P 2 -n 1 true` (scripts/bench.sh
// runs the three alternately) they show where bench-peers' noop time goes:
// what pilot local adds above the second is the share of the ledger, the
// leader, the reports and the queue.

// BenchmarkRunTrueTwoCores is the runner alone, in one working directory
// per core, with its stdout and stderr on spools as the agent runs it.
func BenchmarkRunTrueTwoCores(b *testing.B) {
	dir := b.TempDir()
	spools := runner.NewSpools(filepath.Join(dir, "spools"))
	onTwoCores(b, func(id string, cpu int) error {
		out := runner.Run(context.Background(), runner.Request{Spec: noop(id), Attempt: 1,
			Workdir: filepath.Join(dir, strconv.Itoa(cpu)), CPUs: []int{cpu}, Spools: spools})
		return out.Err
	})
}

// BenchmarkTaskPathTwoCores adds the scratch cache: the entry opened, the
// task run in it, the entry sealed while the core runs the next task (the
// core is free once the process ends, as in the executor).
func BenchmarkTaskPathTwoCores(b *testing.B) {
	cache, err := scratchcache.New(scratchcache.Config{Root: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	spools := runner.NewSpools(cache.SpoolDir())
	var seals sync.WaitGroup
	defer seals.Wait()
	onTwoCores(b, func(id string, cpu int) error {
		spec := noop(id)
		_, lease, err := cache.Open(id, spec.Digest(), 1)
		if err != nil {
			return err
		}
		out := runner.Run(ctx, runner.Request{Spec: spec, Attempt: 1, Workdir: lease.WorkDir(), Fresh: lease.FreshWorkDir(),
			CPUs: []int{cpu}, Env: append(os.Environ(), lease.Env()...), Spools: spools})
		if out.Err != nil {
			return out.Err
		}
		seals.Add(1)
		go func() {
			defer seals.Done()
			if _, err := lease.Seal(ctx, out.Value); err != nil {
				b.Errorf("task %s: seal: %v", id, err)
			}
		}()
		return nil
	})
}

// noop is the task `true <id>`: each has its own content, so none is a
// cache hit.
func noop(id string) task.Spec { return task.Spec{ID: id, Cmd: []string{"true", id}, Cores: 1} }

// onTwoCores runs b.N tasks, two at a time, each on one of the first two
// CPUs this process may use, and reports tasks/s.
func onTwoCores(b *testing.B, run func(id string, cpu int) error) {
	cpus, err := AffinityCPUs()
	if err != nil || len(cpus) < 2 {
		b.Skipf("needs two CPUs (%v)", err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for _, cpu := range cpus[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				id := "t" + strconv.FormatInt(i, 10)
				if err := run(id, cpu); err != nil {
					b.Errorf("task %s: %v", id, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}
