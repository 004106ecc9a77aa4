package sim

import (
	"fmt"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/sched"
)

// The placement policies.
const (
	PolicyDense = "dense" // the real scheduler, sched.Place
	PolicyFIFO  = "fifo"  // first fit in submission order, walltime-blind
)

// Config is one simulation run.
type Config struct {
	Policy       string
	Workload     string // WorkloadNMR or WorkloadMixed, unless WorkloadFile
	WorkloadFile string // a JSONL file of tasks with "true_s"
	Tasks        int    // tasks of a built-in workload
	Seed         int64

	Nodes    int           // nodes in all, split over Pilots slots
	Cores    int           // cores per node
	MemMB    int64         // memory per node
	Walltime time.Duration // of every pilot
	Pilots   int           // concurrent pilot slots: the launcher's Keep (see launch.go)
	// QueueWait is the longest a pilot waits in the batch queue before it
	// starts (uniform from 0); the first pilots arrive the same way.
	QueueWait time.Duration
	// NodeLoss is the chance that a node dies during its pilot, at a
	// uniform random time.
	NodeLoss float64
	// Window is how much work the ledger holds queued, in multiples of the
	// live cores: the backlog stays upstream (promise 6).
	Window float64
	// CheckEvery runs the ledger's full CheckInvariants after every N-th
	// entry (1: after every entry; 0: only at the end); after every other
	// entry CheckTouched checks what the entry touched (see book).
	CheckEvery int
	// Hourly adds the run's hours to its Result (Result.Hours): allocated,
	// busy and idle core-seconds by cause.
	Hourly bool
	// Sched configures the dense policy.
	Sched sched.Config
}

// DefaultConfig is the reference run: 100,000 nmr tasks on 100
// nodes of 56 cores in 24-hour pilots; after every entry the invariants of
// what it touched are checked, and those of the whole ledger after every
// 100th.
func DefaultConfig() Config {
	return Config{
		Policy: PolicyDense, Workload: WorkloadNMR, Tasks: 100000, Seed: 1,
		Nodes: 100, Cores: 56, MemMB: 256 << 10, Walltime: 24 * time.Hour,
		Pilots: 4, QueueWait: 15 * time.Minute, NodeLoss: 0.01,
		Window: 2, CheckEvery: 100, Sched: sched.DefaultConfig(),
	}
}

// Validate names the first setting that cannot run.
func (c Config) Validate() error {
	bad := func(f string, a ...any) error { return fmt.Errorf("sim: "+f, a...) }
	switch {
	case c.Policy != PolicyDense && c.Policy != PolicyFIFO:
		return bad("policy %q: use %q or %q", c.Policy, PolicyDense, PolicyFIFO)
	case c.WorkloadFile == "" && c.Tasks < 1:
		return bad("tasks must be at least 1, got %d", c.Tasks)
	case c.Nodes < 1 || c.Cores < 1 || c.MemMB < 1:
		return bad("nodes (%d), cores (%d) and memory (%d MB) must be positive", c.Nodes, c.Cores, c.MemMB)
	case c.Pilots < 1 || c.Pilots > c.Nodes:
		return bad("pilots must be between 1 and the %d nodes, got %d", c.Nodes, c.Pilots)
	case c.Walltime <= 0:
		return bad("walltime must be positive, got %s", c.Walltime)
	case c.QueueWait < 0:
		return bad("queue wait must not be negative, got %s", c.QueueWait)
	case c.NodeLoss < 0 || c.NodeLoss > 1:
		return bad("node loss is a probability, got %g", c.NodeLoss)
	case c.Window <= 0:
		return bad("window must be positive, got %g", c.Window)
	case c.CheckEvery < 0:
		return bad("check-every must not be negative, got %d", c.CheckEvery)
	}
	return nil
}

func (c Config) workloadName() string {
	if c.WorkloadFile != "" {
		return c.WorkloadFile
	}
	return c.Workload
}
