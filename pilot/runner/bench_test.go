package runner

import (
	"context"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pilot-hpc/pilot/task"
)

// BenchmarkRunTrue measures the runner's cost per task: `true`, pinned,
// with its log files and rusage, next to BenchmarkExecTrue, a bare
// fork/exec/wait of the same program. own-µs/task is the CPU time of this
// process alone (not of the tasks): steadier than the rate on a noisy
// machine.
func BenchmarkRunTrue(b *testing.B) {
	benchRunTrue(b, NewSpools(filepath.Join(b.TempDir(), "spools")))
}

// BenchmarkRunTruePipes is BenchmarkRunTrue with stdout and stderr through
// pipes (no Spools), beside it.
func BenchmarkRunTruePipes(b *testing.B) { benchRunTrue(b, nil) }

func benchRunTrue(b *testing.B, spools *Spools) {
	dir := b.TempDir()
	cpus := []int{0}
	r := Request{Spec: task.Spec{ID: "b", Cmd: []string{"true"}, Cores: 1}, Attempt: 1, Workdir: filepath.Join(dir, "b"), CPUs: cpus, Spools: spools}
	reportRate(b, func() {
		for b.Loop() {
			if o := Run(context.Background(), r); o.Class != OK {
				b.Fatal(o.Err)
			}
		}
	})
}

func BenchmarkExecTrue(b *testing.B) {
	reportRate(b, func() {
		for b.Loop() {
			if err := exec.Command("true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportRate runs loop and reports tasks/s and own-µs/task.
func reportRate(b *testing.B, loop func()) {
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	loop()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	own := after.Utime.Nano() - before.Utime.Nano() + after.Stime.Nano() - before.Stime.Nano()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
	b.ReportMetric(float64(own)/1e3/float64(b.N), "own-µs/task")
}
