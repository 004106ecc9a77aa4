package runner

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pilot-hpc/pilot/task"
)

// BenchmarkRunTrue measures the runner's cost per task: `true`, pinned,
// with its log files and rusage, next to BenchmarkExecTrue, a bare
// fork/exec/wait of the same program.
func BenchmarkRunTrue(b *testing.B) {
	dir := b.TempDir()
	cpus := []int{0}
	r := Request{Spec: task.Spec{ID: "b", Cmd: []string{"true"}, Cores: 1}, Attempt: 1, Workdir: filepath.Join(dir, "b"), CPUs: cpus}
	for b.Loop() {
		if o := Run(context.Background(), r); o.Class != OK {
			b.Fatal(o.Err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}

func BenchmarkExecTrue(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("true").Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}

// BenchmarkRunTrueTwoCores runs `true <i>` on two cores at once, each task
// pinned to its core, as an agent with two free cores does: the runner's
// floor under pilot's rate on short tasks, beside `xargs -P 2 -n 1 true`
// (scripts/bench.sh runs them alternately).
func BenchmarkRunTrueTwoCores(b *testing.B) {
	cpus := allowedCPUs(b)
	if len(cpus) < 2 {
		b.Skip("needs two CPUs")
	}
	dir := b.TempDir()
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				id := "b" + strconv.FormatInt(i, 10)
				r := Request{Spec: task.Spec{ID: id, Cmd: []string{"true", id}, Cores: 1}, Attempt: 1,
					Workdir: filepath.Join(dir, strconv.Itoa(w)), CPUs: cpus[w : w+1]}
				if o := Run(context.Background(), r); o.Class != OK {
					b.Error(o.Err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}
