package batch

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/batch/slurmtest"
)

const pilotSh = "../scripts/sbatch/pilot.sh"

// fakeAgent is a stand-in `pilot` binary: it records how it was started
// and, when pilot.sh's drain file appears (the walltime warning, USR1 to
// the batch shell) or on SIGTERM, notes it and exits as a drained agent.
const fakeAgent = `#!/bin/bash
f=$PILOT_TEST_DIR/agent-${SLURMD_NODENAME:-none}
{ echo "args=$*"; echo "host=$(hostname)"; echo "job=$SLURM_JOB_ID"; } > "$f.tmp" && mv "$f.tmp" "$f.started"
trap 'echo term > "$f.signal"; exit 0' TERM
until [ -e "$PILOT_DRAIN_FILE" ]; do sleep 0.2 & wait $!; done
echo usr1 > "$f.signal"
`

func TestPilotShRefusesBadSetup(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site.toml")
	if err := os.WriteFile(site, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		env  []string
		args []string
		want string
	}{
		{nil, nil, "not inside a Slurm job"},
		{[]string{"SLURM_JOB_ID=1"}, nil, "hint: set PILOT_SITE=FILE or pass --site FILE"},
		{[]string{"SLURM_JOB_ID=1", "PILOT_SITE=/nonexistent.toml"}, nil, "site config '/nonexistent.toml' is not readable"},
		{[]string{"SLURM_JOB_ID=1", "PILOT_BIN=/nonexistent"}, []string{"--site", site}, "pilot binary '/nonexistent' is not executable"},
		{[]string{"SLURM_JOB_ID=1"}, []string{"--sight", site}, "unknown argument '--sight'"},
	}
	for _, c := range cases {
		cmd := exec.Command("bash", append([]string{pilotSh}, c.args...)...)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin", "SLURM_SUBMIT_DIR=" + dir}, c.env...)
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); err == nil || code != 2 || !strings.Contains(string(out), c.want) {
			t.Errorf("env %v args %v: exit %d, output %q; want exit 2 and %q", c.env, c.args, code, out, c.want)
		}
	}
}

// TestPilotShOnRealCluster submits pilot.sh as a user would, with only
// PILOT_SITE and PILOT_QUEUE set (and a stand-in pilot on PATH): one agent
// starts per node with the resolved paths, and the walltime warning that
// Slurm sends the batch shell (simulated with scancel --batch, the real one
// needs minutes) reaches every agent, which drain and end the job.
func TestPilotShOnRealCluster(t *testing.T) {
	slurmtest.Need(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pilot"), []byte(fakeAgent), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "site.toml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(pilotSh)
	if err != nil {
		t.Fatal(err)
	}
	sbatch := exec.CommandContext(ctx, "sbatch", "--parsable", "-N", "3", "--time=3", script)
	sbatch.Dir = dir
	sbatch.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "PILOT_TEST_DIR="+dir,
		"PILOT_SITE=site.toml", "PILOT_QUEUE=tasks.jsonl")
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

	started := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, "agent-*.started"))
		return m
	}
	waitFor(t, "three agents to start", 30*time.Second, func() bool { return len(started()) == 3 })
	var hosts []string
	wantArgs := fmt.Sprintf("args=agent --site %s/site.toml --queue %s/tasks.jsonl", dir, dir)
	for _, f := range started() {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 3 || lines[0] != wantArgs || lines[2] != "job="+id {
			t.Errorf("%s: %q; want %q and job=%s", filepath.Base(f), lines, wantArgs, id)
		}
		hosts = append(hosts, strings.TrimPrefix(lines[1], "host="))
	}
	sort.Strings(hosts)
	if strings.Join(hosts, ",") != "node1,node2,node3" {
		t.Errorf("agents ran on %v, want one on each of node1..3", hosts)
	}
	// The job holds the script's defaults that the command line did not override.
	f, err := exec.CommandContext(ctx, "scontrol", "show", "job", "-o", id).Output()
	if err != nil {
		t.Fatal(err)
	}
	fields, err := ParseScontrol(string(f))
	if err != nil {
		t.Fatal(err)
	}
	if fields["JobName"] != "pilot" || fields["OverSubscribe"] != "NO" || fields["StdOut"] != dir+"/pilot-"+id+".out" {
		t.Errorf("job fields: name %q oversubscribe %q stdout %q", fields["JobName"], fields["OverSubscribe"], fields["StdOut"])
	}

	start := time.Now()
	if b, err := exec.CommandContext(ctx, "scancel", "--batch", "--signal=USR1", id).CombinedOutput(); err != nil {
		t.Fatalf("scancel --batch --signal=USR1: %v: %s", err, b)
	}
	var job JobStatus
	waitFor(t, "the drained pilot to end", 30*time.Second, func() bool {
		got, err := s.Status(ctx, []string{id})
		if err != nil {
			t.Fatal(err)
		}
		job = got[id]
		return job.State.Terminal()
	})
	t.Logf("USR1 to the batch shell -> job %s: %s", job.State, time.Since(start).Round(time.Millisecond))
	if job.State != Completed {
		t.Errorf("job ended %s, want COMPLETED (agents exit 0 after draining)", job.State)
	}
	for _, h := range hosts {
		if b, err := os.ReadFile(filepath.Join(dir, "agent-"+h+".signal")); err != nil || string(b) != "usr1\n" {
			t.Errorf("agent on %s: signal %q, %v; want usr1", h, b, err)
		}
	}
	logText, err := os.ReadFile(filepath.Join(dir, "pilot-"+id+".out"))
	if err != nil || !strings.Contains(string(logText), "got SIGUSR1, passing it to the agents") ||
		!strings.Contains(string(logText), "agents ended with exit code 0") {
		t.Errorf("pilot log: %v\n%s", err, logText)
	}
}
