package slurm

import (
	"os"
	"sync"
	"testing"

	"github.com/pilot-hpc/pilot/batch/slurmtest"
	"github.com/pilot-hpc/pilot/internal/testbin"
)

// TestMain releases the test cluster (tearing it down if these tests
// brought it up) and removes the binary built for them.
func TestMain(m *testing.M) {
	code := slurmtest.Main(m)
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// pilotBinary builds the pilot binary once, on a path every node sees.
func pilotBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp(sharedRoot(), "pilot-e2e-bin-")
		if built.err != nil {
			return
		}
		if built.err = os.Chmod(built.dir, 0o755); built.err != nil {
			return
		}
		built.bin, built.err = testbin.Build(built.dir)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// sharedRoot is a directory all the test cluster's nodes see: /tmp, unless
// the cluster gives each node a private /tmp.
func sharedRoot() string {
	if os.Getenv("SLURM_TEST_PRIVATE_TMP") == "1" {
		return "/var/tmp"
	}
	return os.TempDir()
}

// skipShort skips a test that needs minutes of real Slurm time under -short.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs pilots on the real test Slurm for minutes; skipped with -short")
	}
}
