package slurm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/batch"
	"github.com/pilot-hpc/pilot/batch/slurmtest"
	"github.com/pilot-hpc/pilot/task"
)

// siteParams are the parts of the test's site config that differ by test.
type siteParams struct {
	nodes, keep, cores       int
	walltime, drain, overlap time.Duration
}

// campaign is one campaign on the test cluster: its queue, site config and
// state on the shared filesystem, and the pilots `pilot launch` starts.
type campaign struct {
	t     *testing.T
	dir   string // on the filesystem every node shares
	site  string
	queue string
	name  string // the pilots' job name
	bin   string
	slurm *batch.Slurm
	specs []task.Spec
	runs  int // pilot launch processes started
}

// newCampaign writes the queue and the site config. Its cleanup cancels
// every pilot, waits until no agent process is left and removes the files;
// when the test failed it first logs what the launcher and the pilots said.
func newCampaign(t *testing.T, c *slurmtest.Cluster, p siteParams, specs []task.Spec) *campaign {
	t.Helper()
	bin := pilotBinary(t)
	dir, err := os.MkdirTemp(sharedRoot(), "pilot-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	cp := &campaign{t: t, dir: dir, queue: filepath.Join(dir, "tasks.jsonl"), site: filepath.Join(dir, "site.toml"),
		name: fmt.Sprintf("e2e-%d-%s", os.Getpid(), strings.ToLower(t.Name())), bin: bin, slurm: &batch.Slurm{}, specs: specs}
	cp.name = cp.name[:min(len(cp.name), 40)]
	t.Cleanup(cp.cleanup)
	var q bytes.Buffer
	for _, s := range specs {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		q.Write(append(b, '\n'))
	}
	site := fmt.Sprintf(`name = %q
scratch = %q
state_dir = %q
results = %q
[slurm]
partition = "debug"
nodes = %d
walltime = "%s"
keep = %d
drain_margin = "%s"
overlap = "%s"
[cluster]
bind_interface = "eth0"
voters = 3
[resources]
cores = %d
mem_mb = 2048
`, cp.name, filepath.Join(dir, "scratch"), cp.stateDir(), filepath.Join(dir, "outputs"),
		p.nodes, p.walltime, p.keep, p.drain, p.overlap, p.cores)
	for path, data := range map[string][]byte{cp.queue: q.Bytes(), cp.site: []byte(site)} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(cp.nodesDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("campaign %s in %s on a %d-node cluster", cp.name, dir, c.Nodes)
	return cp
}

func (cp *campaign) stateDir() string { return filepath.Join(cp.dir, "state") }

// nodesDir holds every agent's own data directory (the jobs' TMPDIR), so
// the test reads their attempt logs even where /tmp is per node.
func (cp *campaign) nodesDir() string { return filepath.Join(cp.dir, "nodes") }

// launcher is one `pilot launch` process.
type launcher struct {
	cmd  *exec.Cmd
	out  string
	done chan struct{}
	err  error
}

// startLaunch runs `pilot launch` on the campaign, as a user would, with
// a short round and the agents' scheduling margin fit for 2-minute pilots.
func (cp *campaign) startLaunch() *launcher {
	cp.t.Helper()
	cp.runs++
	script, err := filepath.Abs("../../scripts/sbatch/pilot.sh")
	if err != nil {
		cp.t.Fatal(err)
	}
	l := &launcher{out: filepath.Join(cp.dir, fmt.Sprintf("launch-%d.out", cp.runs)), done: make(chan struct{})}
	f, err := os.Create(l.out)
	if err != nil {
		cp.t.Fatal(err)
	}
	l.cmd = exec.Command(cp.bin, "launch", "--site", cp.site, "--queue", cp.queue, "--every", "2s", "--script", script)
	l.cmd.Stdout, l.cmd.Stderr = f, f
	l.cmd.Env = append(withoutEnv(os.Environ(), "PILOT_BIN", "PILOT_SITE", "PILOT_QUEUE", "PILOT_AGENT_ARGS"),
		"TMPDIR="+cp.nodesDir(), "PILOT_AGENT_ARGS=--walltime-margin=10s --lease-ttl=30s")
	if err := l.cmd.Start(); err != nil {
		f.Close()
		cp.t.Fatal(err)
	}
	go func() {
		l.err = l.cmd.Wait()
		f.Close()
		close(l.done)
	}()
	cp.t.Cleanup(func() { l.stop(cp.t) })
	return l
}

// stop interrupts the launcher (Ctrl-C) and waits for it.
func (l *launcher) stop(t *testing.T) {
	select {
	case <-l.done:
		return
	default:
	}
	_ = l.cmd.Process.Signal(os.Interrupt)
	select {
	case <-l.done:
	case <-time.After(30 * time.Second):
		t.Errorf("pilot launch did not stop within 30s of Ctrl-C; killing it")
		_ = l.cmd.Process.Kill()
		<-l.done
	}
}

// exited reports whether the launcher has ended.
func (l *launcher) exited() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func (l *launcher) output() string {
	b, _ := os.ReadFile(l.out)
	return string(b)
}

// pilots lists the campaign's pilots in submission order.
func (cp *campaign) pilots() []batch.JobStatus {
	cp.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	jobs, err := cp.slurm.List(ctx, "pilot-"+cp.name)
	if err != nil {
		cp.t.Fatalf("list pilots: %v", err)
	}
	slices.SortFunc(jobs, func(a, b batch.JobStatus) int { return jobNum(a.ID) - jobNum(b.ID) })
	return jobs
}

func jobNum(id string) int { n, _ := strconv.Atoi(id); return n }

// endPilots drains the running pilots, cancels the queued ones, and waits
// until none is left.
func (cp *campaign) endPilots(within time.Duration) {
	cp.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var running, queued []string
	for _, j := range cp.pilots() {
		switch {
		case j.State.Terminal():
		case j.State.Queued():
			queued = append(queued, j.ID)
		default:
			running = append(running, j.ID)
		}
	}
	if err := cp.slurm.Cancel(ctx, queued...); err != nil {
		cp.t.Fatal(err)
	}
	if err := cp.slurm.Drain(ctx, running...); err != nil {
		cp.t.Fatal(err)
	}
	waitFor(cp.t, "every pilot to end", within, func() bool {
		for _, j := range cp.pilots() {
			if !j.State.Terminal() {
				return false
			}
		}
		return true
	})
}

// results reads results.jsonl; a second line for one id is an error.
func (cp *campaign) results() map[string]task.Result {
	cp.t.Helper()
	out := map[string]task.Result{}
	path := filepath.Join(cp.stateDir(), "results.jsonl")
	for i, line := range readLines(cp.t, path) {
		var r task.Result
		if err := json.Unmarshal(line, &r); err != nil {
			cp.t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		if _, dup := out[r.ID]; dup {
			cp.t.Errorf("task %s has a second result line at %s:%d", r.ID, path, i+1)
		}
		out[r.ID] = r
	}
	return out
}

// checkAllDone checks that every task of the campaign has exactly one
// result, done, and that no other id has one.
func (cp *campaign) checkAllDone(res map[string]task.Result) {
	cp.t.Helper()
	for _, s := range cp.specs {
		r, ok := res[s.ID]
		switch {
		case !ok:
			cp.t.Errorf("task %s has no result", s.ID)
		case r.State != task.StateDone:
			cp.t.Errorf("task %s ended %s after %d attempt(s): %s", s.ID, r.State, r.Attempts, r.Error)
		}
	}
	if len(res) != len(cp.specs) {
		cp.t.Errorf("%d results for %d tasks", len(res), len(cp.specs))
	}
}

// attempt is one line of an agent's attempt log.
type attempt struct {
	Task    string    `json:"task"`
	Attempt int       `json:"attempt"`
	Node    string    `json:"node"`
	Pilot   string    `json:"pilot"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Outcome string    `json:"outcome"`
}

// attempts reads the attempt logs of every agent of every pilot.
func (cp *campaign) attempts() []attempt {
	cp.t.Helper()
	logs, err := filepath.Glob(filepath.Join(cp.nodesDir(), "pilot-*", "attempts.jsonl"))
	if err != nil {
		cp.t.Fatal(err)
	}
	var out []attempt
	for _, path := range logs {
		for i, line := range readLines(cp.t, path) {
			var a attempt
			if err := json.Unmarshal(line, &a); err != nil {
				cp.t.Fatalf("%s:%d: %v", path, i+1, err)
			}
			out = append(out, a)
		}
	}
	return out
}

// pilotLog is what pilot.sh and the agents of one pilot wrote.
func (cp *campaign) pilotLog(id string) string {
	b, _ := os.ReadFile(filepath.Join(cp.stateDir(), "logs", "pilot-"+id+".out"))
	return string(b)
}

// cleanup ends every pilot and agent process of the campaign and removes
// its files; after a failure it logs what the launcher and pilots said.
func (cp *campaign) cleanup() {
	t := cp.t
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if jobs, err := cp.slurm.List(ctx, "pilot-"+cp.name); err == nil {
		var ids []string
		for _, j := range jobs {
			if !j.State.Terminal() {
				ids = append(ids, j.ID)
			}
		}
		if err := cp.slurm.Cancel(ctx, ids...); err != nil {
			t.Errorf("cancel pilots %v: %v", ids, err)
		}
	}
	// Slurm kills a job's processes KillWait (5 s) after the cancel; a
	// cut-off node's only once it is back. Wait for them, then make sure.
	deadline := time.Now().Add(90 * time.Second)
	for len(cp.agentPIDs()) > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond) // polling external processes
	}
	for _, pid := range cp.agentPIDs() {
		t.Errorf("agent process %d outlived its pilot; killing it", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if t.Failed() {
		cp.dumpLogs()
	}
	if err := os.RemoveAll(cp.dir); err != nil {
		t.Errorf("remove %s: %v", cp.dir, err)
	}
}

// agentPIDs are the live processes running this test's pilot binary for
// this campaign.
func (cp *campaign) agentPIDs() []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(b, []byte(cp.bin+"\x00agent")) || !bytes.Contains(b, []byte(cp.site)) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(filepath.Dir(p), "stat"))
		if err == nil && bytes.Contains(stat, []byte(") Z ")) {
			continue // a zombie waiting to be reaped by its parent
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		pids = append(pids, pid)
	}
	return pids
}

// dumpLogs logs the launcher's output and the warnings of every pilot.
func (cp *campaign) dumpLogs() {
	for i := 1; i <= cp.runs; i++ {
		b, _ := os.ReadFile(filepath.Join(cp.dir, fmt.Sprintf("launch-%d.out", i)))
		cp.t.Logf("pilot launch #%d said:\n%s", i, b)
	}
	logs, _ := filepath.Glob(filepath.Join(cp.stateDir(), "logs", "pilot-*.out"))
	for _, path := range logs {
		var keep []string
		for _, line := range strings.Split(readFile(path), "\n") {
			if strings.HasPrefix(line, "pilot.sh:") || strings.Contains(line, "level=WARN") ||
				strings.Contains(line, "level=ERROR") || strings.Contains(line, "draining") ||
				strings.Contains(line, "leading") || strings.Contains(line, "srun:") {
				keep = append(keep, line)
			}
		}
		if len(keep) > 60 {
			keep = append(keep[:30], append([]string{"..."}, keep[len(keep)-30:]...)...)
		}
		cp.t.Logf("%s (pilot.sh lines, warnings, leadership, drains):\n%s", filepath.Base(path), strings.Join(keep, "\n"))
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// readLines returns the complete lines of a file (none if it is missing).
func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return out // a partial last line is still being written
		}
		if len(bytes.TrimSpace(line)) > 0 {
			out = append(out, line)
		}
	}
}

// waitFor polls cond until it holds or the deadline passes. Slurm and the
// agents are external processes: polling with a deadline is how to wait
// for them.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// withoutEnv drops the named variables from env.
func withoutEnv(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, name)
	})
}

// sleepTask is a task that sleeps secs seconds; est 0 gives no estimate.
// The input makes every task's content, and so its cache entry, its own.
func sleepTask(id string, secs, est float64, maxAttempts int) task.Spec {
	return task.Spec{ID: id, Cmd: []string{"sleep", strconv.FormatFloat(secs, 'f', -1, 64)}, Input: id,
		Cores: 1, EstS: est, MaxAttempts: maxAttempts}
}
