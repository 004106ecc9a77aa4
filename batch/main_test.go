package batch

import (
	"os"
	"testing"

	"github.com/pilot-hpc/pilot/batch/slurmtest"
)

// TestMain releases (and, if these tests brought it up, tears down) the
// real Slurm test cluster after the package's tests.
func TestMain(m *testing.M) { os.Exit(slurmtest.Main(m)) }
