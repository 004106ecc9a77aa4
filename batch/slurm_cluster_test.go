package batch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/batch/slurmtest"
)

// waitFor polls an external condition (Slurm, or files its jobs write)
// until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSlurmAdapterOnRealCluster submits a 3-node job through the adapter,
// reads its end time, lists it, checks what the job saw in its environment
// against what squeue says, cancels it, and confirms an unknown id ends Gone.
func TestSlurmAdapterOnRealCluster(t *testing.T) {
	slurmtest.Need(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	script := filepath.Join(dir, "job.sh")
	body := `#!/bin/sh
env > "$1/batch-$SLURM_JOB_ID.env"
srun --ntasks-per-node=1 sh -c 'env > "$0/step-$SLURM_JOB_ID-$SLURM_NODEID.env"' "$1"
exec sleep 300
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Slurm{}
	name := fmt.Sprintf("batchtest-%d", os.Getpid())
	start := time.Now()
	id, err := s.Submit(ctx, SubmitRequest{Script: script, Args: []string{dir}, Name: name, Dir: dir, Nodes: 3,
		Walltime: 5 * time.Minute, SignalBefore: time.Minute, Output: filepath.Join(dir, "%j.out"),
		Env: map[string]string{"PILOT_TEST": "a,b"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Cancel(context.Background(), id) })

	var job JobStatus
	waitFor(t, "the job to run", 30*time.Second, func() bool {
		got, err := s.Status(ctx, []string{id, "999999"})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := got["999999"]; ok {
			t.Fatal("an unknown id was reported")
		}
		job = got[id]
		return job.State == Running
	})
	t.Logf("sbatch to RUNNING: %s", time.Since(start).Round(time.Millisecond))
	if job.Name != name || job.NumNodes != 3 || len(job.Nodes) != 3 || job.Limit != 5*time.Minute {
		t.Fatalf("squeue says %+v", job)
	}

	end, err := s.EndTime(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !end.Equal(job.Start.Add(job.Limit)) || end.Before(start.Add(4*time.Minute)) || end.After(time.Now().Add(6*time.Minute)) {
		t.Errorf("end time %s: want start %s + 5m, about 5 minutes from now", end, job.Start)
	}

	listed, err := s.List(ctx, name)
	if err != nil || len(listed) != 1 || listed[0].ID != id {
		t.Errorf("List(%q) = %+v, %v", name, listed, err)
	}

	// What the job saw: the batch shell on the first node, one step task per node.
	batchEnv := filepath.Join(dir, "batch-"+id+".env")
	waitFor(t, "the job's environment files", 30*time.Second, func() bool {
		for i := 0; i < 3; i++ {
			if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("step-%s-%d.env", id, i))); err != nil {
				return false
			}
		}
		return true
	})
	inJob, err := FromEnv(envFile(t, batchEnv))
	if err != nil {
		t.Fatal(err)
	}
	if viaEnv, err := AllocationEnd(ctx, s, inJob); err != nil || !viaEnv.Equal(end) {
		t.Errorf("AllocationEnd from the job's environment = %s, %v; want %s", viaEnv, err, end)
	}
	if inJob.ID != id || !reflect.DeepEqual(inJob.Nodes, job.Nodes) || inJob.CPUsOnNode < 1 || len(inJob.CPUsPerNode) != 3 ||
		inJob.Restarts != 0 || inJob.Name != name {
		t.Errorf("the batch shell saw %+v; squeue says nodes %v", inJob, job.Nodes)
	}
	if envFile(t, batchEnv)("PILOT_TEST") != "a,b" {
		t.Error("the submit environment did not reach the job")
	}
	var stepNodes []string
	for i := 0; i < 3; i++ {
		step, err := FromEnv(envFile(t, filepath.Join(dir, fmt.Sprintf("step-%s-%d.env", id, i))))
		if err != nil {
			t.Fatal(err)
		}
		stepNodes = append(stepNodes, step.Node)
	}
	sort.Strings(stepNodes)
	if !reflect.DeepEqual(stepNodes, job.Nodes) {
		t.Errorf("steps ran on %v, the job holds %v", stepNodes, job.Nodes)
	}

	start = time.Now()
	if err := s.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job to end", 30*time.Second, func() bool {
		got, err := s.Status(ctx, []string{id})
		if err != nil {
			t.Fatal(err)
		}
		job = got[id]
		return job.State.Terminal()
	})
	t.Logf("scancel to %s: %s", job.State, time.Since(start).Round(time.Millisecond))
	if job.State != Cancelled {
		t.Errorf("after scancel: %s", job.State)
	}

	// An id Slurm never knew: absent from every answer, Gone after three.
	tr := &Tracker{}
	var last map[string]JobStatus
	for range DefaultConfirmations {
		if last, err = tr.Poll(ctx, s, []string{"999999"}); err != nil {
			t.Fatal(err)
		}
	}
	if last["999999"].State != Gone {
		t.Errorf("unknown id after %d polls: %+v", DefaultConfirmations, last["999999"])
	}
	if _, err := s.EndTime(ctx, "999999"); err == nil {
		t.Error("EndTime of an unknown job succeeded")
	}
}
