package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// pilotBin is the pilot binary built for this run of the tests.
var pilotBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pilot-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	pilotBin = filepath.Join(dir, "pilot")
	build := exec.Command("go", "build", "-o", pilotBin, "github.com/pilot-hpc/pilot/cmd/pilot")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: build the pilot binary:", err)
		return 1
	}
	return m.Run()
}
