package runner

import (
	"context"
	"os/exec"
	"path/filepath"
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
