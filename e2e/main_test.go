package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// pilotBin is the pilot binary built for this run of the tests.
var pilotBin string

// TestMain builds bin/pilot once into a temporary directory: every test
// starts agents from it as real processes.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pilot-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	pilotBin = filepath.Join(dir, "pilot")
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	build := exec.Command(gobin, "build", "-o", pilotBin, "github.com/pilot-hpc/pilot/cmd/pilot")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build the pilot binary:", err)
		return 1
	}
	return m.Run()
}

// skipShort skips a test that runs a cluster in 'go test -short'.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a cluster of agent processes; skipped with -short")
	}
}
