package batch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/batch/slurmtest"
)

// TestLauncherOnRealCluster keeps two 1-node pilots alive on the real
// cluster: the first round submits two, the next submits none, and after
// one pilot is cancelled a round replaces it; with no work left, none.
func TestLauncherOnRealCluster(t *testing.T) {
	slurmtest.Need(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	script := filepath.Join(dir, "pilot.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 300\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Slurm{}
	l := &Launcher{Sched: s, Policy: LaunchPolicy{Keep: 2, Overlap: time.Minute},
		Request: SubmitRequest{Script: script, Name: fmt.Sprintf("launchtest-%d", os.Getpid()), Dir: dir,
			Nodes: 1, Walltime: 5 * time.Minute, Output: filepath.Join(dir, "%j.out")}}
	var all []string
	t.Cleanup(func() { _ = s.Cancel(context.Background(), all...) })
	round := func(work Work, want int) []string {
		t.Helper()
		plan, ids, err := l.Round(ctx, time.Now(), work)
		all = append(all, ids...)
		if err != nil || len(ids) != want {
			t.Fatalf("round submitted %v (%s), %v; want %d", ids, plan.Why, err, want)
		}
		return ids
	}
	first := round(Work{Tasks: 10}, 2)
	round(Work{Tasks: 10}, 0) // both are queued or running: nothing to add
	if err := s.Cancel(ctx, first[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cancelled pilot to end", 30*time.Second, func() bool {
		got, err := s.Status(ctx, first[:1])
		if err != nil {
			t.Fatal(err)
		}
		return got[first[0]].State.Terminal()
	})
	round(Work{Tasks: 10}, 1)
	round(Work{}, 0)
}
