package runner

import (
	"context"
	"os"
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

// BenchmarkForkExecTrue is the floor under both: syscall.ForkExec and
// wait4, which Run uses, with none of os/exec's Cmd around them.
func BenchmarkForkExecTrue(b *testing.B) {
	path, err := exec.LookPath("true")
	if err != nil {
		b.Skip(err)
	}
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}}
	reportRate(b, func() {
		for b.Loop() {
			pid, err := syscall.ForkExec(path, []string{"true"}, attr)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := reap(pid); err != nil {
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
