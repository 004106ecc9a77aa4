package e2e

import (
	"os"
	"testing"

	"github.com/pilot-hpc/pilot/internal/testbin"
)

// pilotBin is the pilot binary built for this run of the tests.
var pilotBin string

// TestMain builds bin/pilot once into a temporary directory: every test
// starts agents from it as real processes.
func TestMain(m *testing.M) {
	os.Exit(testbin.Main(m, &pilotBin))
}

// skipShort skips a test that runs a cluster in 'go test -short'.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a cluster of agent processes; skipped with -short")
	}
}
