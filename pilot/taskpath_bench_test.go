package pilot

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pilot-hpc/pilot/pilot/runner"
	"github.com/pilot-hpc/pilot/scratchcache"
	"github.com/pilot-hpc/pilot/task"
)

// BenchmarkTaskPathTwoCores is what a short task costs a node without the
// ledger, the leader or the network: its scratch cache entry opened,
// `true <id>` run pinned to one of two cores, the entry sealed while the
// core runs the next task, two tasks at a time as `pilot local --nodes 1
// --cores-per-node 2` runs them.
// Beside BenchmarkRunTrueTwoCores (the runner alone) and `xargs -P 2 -n 1
// true` it is the floor under bench-peers' noop rate: what the agent adds
// above it is the ledger's, the leader's and the reports' share.
func BenchmarkTaskPathTwoCores(b *testing.B) {
	cpus, err := AffinityCPUs()
	if err != nil || len(cpus) < 2 {
		b.Skipf("needs two CPUs (%v)", err)
	}
	cache, err := scratchcache.New(scratchcache.Config{Root: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var next atomic.Int64
	var wg, seals sync.WaitGroup
	b.ResetTimer()
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				id := "t" + strconv.FormatInt(i, 10)
				spec := task.Spec{ID: id, Cmd: []string{"true", id}, Cores: 1}
				_, lease, err := cache.Open(id, spec.Digest(), 1)
				if err != nil || lease == nil {
					b.Errorf("task %s: no lease: %v", id, err)
					return
				}
				out := runner.Run(ctx, runner.Request{Spec: spec, Attempt: 1, Workdir: lease.WorkDir(), Fresh: lease.FreshWorkDir(), CPUs: cpus[w : w+1],
					Env: append(os.Environ(), lease.Env()...)})
				if out.Class != runner.OK {
					b.Errorf("task %s: %v", id, out.Err)
					return
				}
				// The core is free once the process ends, as in the
				// executor: the seal overlaps the next task.
				seals.Add(1)
				go func() {
					defer seals.Done()
					if _, err := lease.Seal(ctx, out.Value); err != nil {
						b.Errorf("task %s: seal: %v", id, err)
					}
				}()
			}
		}()
	}
	wg.Wait()
	seals.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}
