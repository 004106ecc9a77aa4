package batch

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/batch/slurmtest"
)

// TestPilotShSurvivesNodeLoss cuts one node of a running 3-node pilot off
// the network. With pilot.sh's --no-kill (sbatch and srun), Slurm shrinks
// the job instead of ending it, and the agents on the other nodes keep
// running: they still answer the drain signal afterwards. Slurm needs about
// 20 s to declare the node DOWN, so this test takes that long.
func TestPilotShSurvivesNodeLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("takes ~25 s of real time for Slurm to notice the lost node")
	}
	c := slurmtest.Need(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"pilot": fakeAgent, "site.toml": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script, _ := filepath.Abs(pilotSh)
	sbatch := exec.CommandContext(ctx, "sbatch", "--parsable", "-N", "3", "--time=3", script)
	sbatch.Dir = dir
	sbatch.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "PILOT_TEST_DIR="+dir, "PILOT_SITE=site.toml")
	out, err := sbatch.Output()
	if err != nil {
		t.Fatalf("sbatch: %v", err)
	}
	id, err := parseSbatch(string(out))
	if err != nil {
		t.Fatal(err)
	}
	s := &Slurm{}
	t.Cleanup(func() { _ = s.Cancel(context.Background(), id) })

	var job JobStatus
	waitFor(t, "three agents to start", 30*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "agent-*.started"))
		got, err := s.Status(ctx, []string{id})
		if err != nil {
			t.Fatal(err)
		}
		job = got[id]
		return len(m) == 3
	})
	// Cut the last node (the batch shell runs on the first).
	lost := job.Nodes[len(job.Nodes)-1]
	n, err := strconv.Atoi(strings.TrimPrefix(lost, "node"))
	if err != nil {
		t.Fatalf("node name %q", lost)
	}
	start := time.Now()
	if err := c.Cut(n); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Restore(n); err != nil {
			t.Error(err)
		}
		waitFor(t, lost+" to be back", 60*time.Second, func() bool {
			out, _ := exec.Command("sinfo", "-h", "-n", lost, "-o", "%T").Output()
			st := strings.TrimSpace(string(out))
			return st == "idle" || st == "allocated" || st == "mixed"
		})
	})
	waitFor(t, "Slurm to drop "+lost+" from the job", 90*time.Second, func() bool {
		got, err := s.Status(ctx, []string{id})
		if err != nil {
			t.Fatal(err)
		}
		job = got[id]
		return job.State.Terminal() || !slices.Contains(job.Nodes, lost)
	})
	t.Logf("node cut -> job shrank to %v (%s): %s", job.Nodes, job.State, time.Since(start).Round(time.Second))
	if job.State != Running || len(job.Nodes) != 2 {
		t.Fatalf("after losing %s the pilot is %s on %v; want RUNNING on the other two", lost, job.State, job.Nodes)
	}
	if b, err := exec.CommandContext(ctx, "scancel", "--batch", "--signal=USR1", id).CombinedOutput(); err != nil {
		t.Fatalf("scancel: %v: %s", err, b)
	}
	for _, h := range job.Nodes {
		waitFor(t, "the agent on "+h+" to drain", 30*time.Second, func() bool {
			b, err := os.ReadFile(filepath.Join(dir, "agent-"+h+".signal"))
			return err == nil && string(b) == "usr1\n"
		})
	}
}
