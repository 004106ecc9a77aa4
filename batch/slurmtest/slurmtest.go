package slurmtest

import (
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// LockPath is the machine-wide lock the users of the test cluster share.
const LockPath = "/run/lock/pilot-slurm-test.lock"

// RequireEnv set to 1 turns "no Slurm here" from a skip into a failure, so
// CI cannot pass by skipping the cluster tests.
const RequireEnv = "PILOT_SLURM_REQUIRED"

// Cluster is the running test cluster.
type Cluster struct {
	// Nodes is how many nodes it has (node1..nodeN).
	Nodes int
	// Net is the /24 prefix of its addresses ("10.77.0").
	Net string
	// Scripts is the directory of cluster-up.sh and cluster-down.sh.
	Scripts string
}

// NodeAddr is the address of node i (1-based), as a job on it binds.
func (c *Cluster) NodeAddr(i int) string { return fmt.Sprintf("%s.%d", c.Net, 10+i) }

// Cut takes node i off the network (ip link set snIh down); Slurm marks it
// not responding after about 10 s and DOWN after about 20 s.
func (c *Cluster) Cut(i int) error {
	return run("ip", "link", "set", fmt.Sprintf("sn%dh", i), "down")
}

// Restore puts node i back on the network and tells Slurm to use it again.
func (c *Cluster) Restore(i int) error {
	if err := run("ip", "link", "set", fmt.Sprintf("sn%dh", i), "up"); err != nil {
		return err
	}
	// RESUME is refused while the node is still up in Slurm's view; that
	// is fine, the node was never taken out.
	_ = run("scontrol", "update", fmt.Sprintf("NodeName=node%d", i), "State=RESUME")
	return nil
}

var state struct {
	sync.Mutex
	lock    *os.File
	cluster *Cluster
	brought bool
	skip    string
	err     error
}

// Need returns the test cluster with at least nodes nodes, bringing it up
// if it is not running. It skips the test where Slurm cannot run (not
// root, packages missing) unless PILOT_SLURM_REQUIRED=1. Main must run the
// package's tests, so the cluster is torn down at the end.
func Need(t testing.TB, nodes int) *Cluster {
	t.Helper()
	state.Lock()
	defer state.Unlock()
	if state.cluster == nil || state.cluster.Nodes < nodes {
		state.skip, state.err = "", nil
		state.cluster, state.skip, state.err = acquire(nodes)
	}
	switch {
	case state.err != nil:
		t.Fatalf("slurm test cluster: %v", state.err)
	case state.skip != "" && os.Getenv(RequireEnv) == "1":
		t.Fatalf("slurm test cluster: %s (and %s=1)", state.skip, RequireEnv)
	case state.skip != "":
		t.Skipf("slurm test cluster: %s", state.skip)
	}
	return state.cluster
}

// Main runs the package's tests, then tears the cluster down if Need
// brought it up, and releases the lock.
func Main(m *testing.M) int {
	code := m.Run()
	state.Lock()
	defer state.Unlock()
	if state.brought && state.cluster != nil {
		start := time.Now()
		if err := runScript(state.cluster.Scripts, "cluster-down.sh", nil); err != nil {
			log.Printf("slurmtest: teardown: %v", err)
			code = 1
		} else {
			log.Printf("slurmtest: cluster down in %s", time.Since(start).Round(time.Millisecond))
		}
	}
	if state.lock != nil {
		state.lock.Close() // releases the flock
	}
	return code
}

// acquire takes the lock and makes sure the cluster runs with nodes nodes.
func acquire(nodes int) (*Cluster, string, error) {
	for _, tool := range []string{"slurmctld", "slurmd", "sbatch", "munged"} {
		if _, err := exec.LookPath(tool); err != nil {
			if _, err := os.Stat("/usr/sbin/" + tool); err != nil {
				return nil, tool + " is not installed; run scripts/ci/install-slurm.sh as root", nil
			}
		}
	}
	scripts, err := scriptsDir()
	if err != nil {
		return nil, "", err
	}
	if state.lock == nil {
		f, err := os.OpenFile(LockPath, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, fmt.Sprintf("cannot open the lock %s: %v", LockPath, err), nil
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, "", fmt.Errorf("lock %s: %w", LockPath, err)
		}
		state.lock = f
	}
	if !controllerUp() || countNodes() < nodes {
		if os.Geteuid() != 0 {
			return nil, "no cluster is running and bringing one up needs root (make slurm-up)", nil
		}
		wasUp := controllerUp()
		start := time.Now()
		if wasUp {
			// A running slurmctld learns new nodes only when it restarts
			// (Slurm 22.05), and the lock says no one else uses it now.
			if err := runScript(scripts, "cluster-down.sh", nil); err != nil {
				return nil, "", err
			}
		}
		if err := runScript(scripts, "cluster-up.sh", []string{fmt.Sprintf("SLURM_TEST_NODES=%d", nodes)}); err != nil {
			return nil, "", err
		}
		state.brought = state.brought || !wasUp
		log.Printf("slurmtest: %d-node cluster up in %s", nodes, time.Since(start).Round(time.Millisecond))
	}
	return &Cluster{Nodes: max(nodes, countNodes()), Net: netPrefix(), Scripts: scripts}, "", nil
}

// controllerUp reports whether a slurmctld answers. Without a slurm.conf
// the tools would look the controller up in DNS; the test cluster never
// needs that, so no config means no cluster.
func controllerUp() bool {
	if _, err := os.Stat("/etc/slurm/slurm.conf"); err != nil {
		return false
	}
	return exec.Command("scontrol", "ping").Run() == nil
}

// countNodes counts the nodes Slurm will run jobs on.
func countNodes() int {
	out, err := exec.Command("sinfo", "-h", "-N", "-t", "idle,alloc,mix,comp", "-o", "%N").Output()
	if err != nil {
		return 0
	}
	seen := map[string]bool{}
	for _, n := range strings.Fields(string(out)) {
		seen[n] = true
	}
	return len(seen)
}

func netPrefix() string {
	if n := os.Getenv("SLURM_TEST_NET"); n != "" {
		return n
	}
	return "10.77.0"
}

// scriptsDir finds scripts/slurm of this repository from the test's
// working directory (its package directory).
func scriptsDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "scripts", "slurm"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; run the tests from the repository")
		}
		dir = parent
	}
}

func runScript(dir, name string, env []string) error {
	cmd := exec.Command(filepath.Join(dir, name))
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
