// Package testbin builds the pilot binary for test packages that run it as
// real processes (agents, 'pilot local', the Slurm end-to-end runs), so each
// of them tests the real command rather than a copy of its wiring.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Build builds cmd/pilot into dir/pilot and returns its path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "pilot")
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(gobin, "build", "-o", bin, "github.com/pilot-hpc/pilot/cmd/pilot").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build the pilot binary: %v: %s", err, out)
	}
	return bin, nil
}

// Main is a TestMain body: it builds the binary into a temporary directory,
// points *bin at it, runs the tests and removes the directory. It returns
// the exit code for os.Exit.
func Main(m *testing.M, bin *string) int {
	dir, err := os.MkdirTemp("", "pilot-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testbin:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *bin, err = Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "testbin:", err)
		return 1
	}
	return m.Run()
}
