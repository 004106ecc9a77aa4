package batch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeTools writes shell scripts named like Slurm's tools into a directory,
// so the command side (flags, environment, error reporting) runs real
// processes without a cluster. slurm_cluster_test.go runs the real tools.
func fakeTools(t *testing.T, scripts map[string]string) *Slurm {
	t.Helper()
	dir := t.TempDir()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &Slurm{Bin: dir}
}

func TestSubmitFlags(t *testing.T) {
	t.Setenv("TZ", "")
	t.Setenv("SLURM_TIME_FORMAT", "")
	argsFile := filepath.Join(t.TempDir(), "args")
	s := fakeTools(t, map[string]string{
		"sbatch": `printf '%s\n' "$@" > ` + argsFile + `; echo "PILOT_QUEUE=$PILOT_QUEUE TZ=$TZ FMT=$SLURM_TIME_FORMAT" >> ` + argsFile + `; echo "42;testcluster"`,
	})
	id, err := s.Submit(context.Background(), SubmitRequest{
		Script: "pilot.sh", Args: []string{"--verbose"}, Name: "pilot-local", Nodes: 3, Walltime: 90 * time.Second,
		Partition: "debug", SignalBefore: time.Minute, Output: "/logs/pilot-%j.out",
		Env: map[string]string{"PILOT_QUEUE": "/q,with,commas.jsonl"}, Extra: []string{"--no-requeue"},
	})
	if err != nil || id != "42" {
		t.Fatalf("Submit = %q, %v", id, err)
	}
	got := read(t, argsFile)
	for _, want := range []string{"--parsable\n", "--job-name=pilot-local\n", "--nodes=3\n", "--time=0-00:02:00\n",
		"--signal=B:USR1@60\n", "--partition=debug\n", "--output=/logs/pilot-%j.out\n", "--export=ALL\n",
		"--no-requeue\npilot.sh\n--verbose\n", "PILOT_QUEUE=/q,with,commas.jsonl TZ= FMT=\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("sbatch got:\n%s\nwant %q in it", got, want)
		}
	}
	if strings.Contains(got, "--account") {
		t.Error("empty account passed")
	}
}

func TestQueriesPinTimeFormat(t *testing.T) {
	// squeue prints times in the zone and format of its environment; the
	// adapter pins both, so a site's SLURM_TIME_FORMAT=relative or TZ
	// cannot change what it parses.
	t.Setenv("TZ", "America/Denver")
	t.Setenv("SLURM_TIME_FORMAT", "relative")
	s := fakeTools(t, map[string]string{
		"squeue": `[ "$TZ" = UTC ] && [ "$SLURM_TIME_FORMAT" = standard ] || exit 9; echo "RUNNING|2026-12-01T04:00:00"`,
	})
	if end, err := s.EndTime(context.Background(), "7"); err != nil || !end.Equal(utc("2026-12-01T04:00:00")) {
		t.Errorf("EndTime = %s, %v", end, err)
	}
}

func TestCommandErrorsCarryCommandExitAndStderr(t *testing.T) {
	s := fakeTools(t, map[string]string{
		"sbatch":  `echo "sbatch: error: Batch job submission failed: Invalid partition name specified" >&2; exit 1`,
		"squeue":  `echo "slurm_load_jobs error: Unable to contact slurm controller (connect failure)" >&2; exit 1`,
		"scancel": `echo "scancel: error: Kill job error on job id 5: Access/permission denied" >&2; exit 1`,
	})
	ctx := context.Background()
	_, err := s.Submit(ctx, SubmitRequest{Script: "pilot.sh", Partition: "nope"})
	var ce *CmdError
	if !errors.As(err, &ce) || ce.ExitCode != 1 || ce.Args[0] != "sbatch" ||
		!strings.Contains(err.Error(), "--partition=nope") || !strings.Contains(err.Error(), "Invalid partition name") {
		t.Errorf("sbatch error: %v", err)
	}
	if _, err := s.Status(ctx, []string{"1", "2"}); !errors.As(err, &ce) || !strings.Contains(err.Error(), "squeue -h -t all -j 1,2") ||
		!strings.Contains(err.Error(), "Unable to contact") || errors.Is(err, ErrUnknownJob) {
		t.Errorf("an outage must be an error, not an answer: %v", err)
	}
	if err := s.Cancel(ctx, "5"); err == nil || !strings.Contains(err.Error(), "exit code 1: scancel: error") {
		t.Errorf("scancel error: %v", err)
	}
	missing := &Slurm{Bin: t.TempDir()}
	if _, err := missing.Status(ctx, []string{"1"}); !errors.As(err, &ce) || ce.ExitCode != -1 || !strings.Contains(err.Error(), "squeue") {
		t.Errorf("missing tool: %v", err)
	}
}

func TestUnknownJobs(t *testing.T) {
	// Slurm 22.05: squeue -j with only unknown ids exits 1 with "Invalid job
	// id specified"; scontrol says the same.
	s := fakeTools(t, map[string]string{
		"squeue":   `echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1`,
		"scontrol": `echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1`,
		"scancel":  `echo "scancel: error: Kill job error on job id 99: Invalid job id specified" >&2; exit 1`,
	})
	ctx := context.Background()
	got, err := s.Status(ctx, []string{"99"})
	if err != nil || len(got) != 0 {
		t.Errorf("Status of unknown ids = %v, %v; want an empty answer", got, err)
	}
	if _, err := s.EndTime(ctx, "99"); !errors.Is(err, ErrUnknownJob) || !strings.Contains(err.Error(), "scontrol show job -o 99") {
		t.Errorf("EndTime of an unknown job: %v", err)
	}
	if err := s.Cancel(ctx, "99"); err != nil {
		t.Errorf("cancelling an unknown job: %v", err)
	}
}

func TestEndTimeOfWaitingJob(t *testing.T) {
	s := fakeTools(t, map[string]string{"squeue": `echo "PENDING|2026-12-01T04:00:00"`})
	if _, err := s.EndTime(context.Background(), "7"); !errors.Is(err, ErrNoEndTime) {
		t.Errorf("a waiting job's guessed end was taken as its end: %v", err)
	}
	s = fakeTools(t, map[string]string{"squeue": `echo "RUNNING|2026-12-01T04:00:00"`})
	if end, err := s.EndTime(context.Background(), "7"); err != nil || !end.Equal(utc("2026-12-01T04:00:00")) {
		t.Errorf("EndTime = %s, %v", end, err)
	}
}
