package chaos

import (
	"os"
	"testing"

	"github.com/pilot-hpc/pilot/internal/testbin"
)

// pilotBin is the pilot binary built for this run of the tests.
var pilotBin string

// TestMain builds the pilot binary once: every scenario runs it.
func TestMain(m *testing.M) {
	os.Exit(testbin.Main(m, &pilotBin))
}
