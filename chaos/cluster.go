package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pilot-hpc/pilot/upstream"
)

// Cluster is one campaign worked by 'pilot agent' processes on this
// machine: a queue file (or a queue server URL), its state directory and
// every agent ever started for it. Methods are not safe for concurrent use.
type Cluster struct {
	Bin    string // the pilot binary
	Dir    string // everything of the run lives here
	Queue  string // the queue: a JSONL file, or a 'pilot serve' URL
	State  string // the campaign's state directory
	Agents []*Agent
	Extra  []string // flags for every agent
	Env    []string // environment beyond this process's, for every agent
	// Bootstrap makes the next agent started bootstrap a new cluster (the
	// first one always does).
	Bootstrap bool
	// Host, when set, gives agent name a host of its own: the command
	// prefix that runs it there (ip netns exec NS) and the address it
	// binds and advertises. Nil: every agent binds 127.0.0.1 with
	// --loopback.
	Host  func(name string) (wrap []string, addr string, err error)
	next  int
	rafts int // Raft clusters bootstrapped after the first
	// With a queue server: the client, the submitted input, the last count
	// of final tasks it gave.
	up       upstream.Queue
	input    string
	lastDone int
}

// Agent is one agent process.
type Agent struct {
	Name string
	Data string // node-local directory: attempts.jsonl, the Raft log
	Log  string // stdout and stderr
	argv []string
	raft int // which Raft cluster of the campaign it formed (0: the first)
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// NewCluster makes a campaign in dir whose queue file holds data as is
// (the caller writes the newlines, so a scenario can end it mid-line).
func NewCluster(bin, dir string, data []byte) (*Cluster, error) {
	q := filepath.Join(dir, "q.jsonl")
	if err := os.WriteFile(q, data, 0o600); err != nil {
		return nil, err
	}
	return &Cluster{Bin: bin, Dir: dir, Queue: q, State: q + ".pilot"}, nil
}

// Start starts one more agent, named aN; the first one bootstraps.
// Each offers 2 cores pinned to CPUs 0 and 1; voters is the number of Raft
// voters the cluster keeps.
func (c *Cluster) Start(voters int) (*Agent, error) {
	name := fmt.Sprintf("a%d", c.next)
	a := &Agent{Name: name, Data: filepath.Join(c.Dir, "data", name), Log: filepath.Join(c.Dir, "logs", name+".log"), done: make(chan struct{})}
	if err := os.MkdirAll(filepath.Dir(a.Log), 0o700); err != nil {
		return nil, err
	}
	var wrap []string
	netFlags := []string{"--bind", "127.0.0.1", "--loopback"}
	if c.Host != nil {
		w, addr, err := c.Host(name)
		if err != nil {
			return nil, err
		}
		wrap, netFlags = w, []string{"--bind", addr}
	}
	args := []string{"agent", "--queue", c.Queue, "--state", c.State, "--name", name, "--pilot", name,
		"--data", a.Data, "--cores", "2", "--cpus", "0,1",
		"--voters", strconv.Itoa(voters), "--lease-ttl", "30s", "--drain-margin", "20s"}
	if c.next == 0 || c.Bootstrap {
		args = append(args, "--bootstrap")
		if c.next > 0 {
			c.rafts++ // a new Raft cluster, with terms of its own
		}
		c.Bootstrap = false
	}
	a.raft = c.rafts
	args = append(args, netFlags...)
	args = append(args, c.Extra...)
	a.argv = slices.Concat(wrap, []string{c.Bin}, args)
	if err := c.run(a); err != nil {
		return nil, err
	}
	c.next++
	c.Agents = append(c.Agents, a)
	return a, nil
}

// Restart starts a dead agent again with the same command line: its name,
// its data directory (its Raft log and snapshots, its attempt log), its
// log file appended to. It is a node's agent restarted after a crash.
func (c *Cluster) Restart(a *Agent) error {
	if a.Alive() {
		return fmt.Errorf("restart agent %s: it still runs", a.Name)
	}
	a.done = make(chan struct{})
	return c.run(a)
}

// run starts a's process.
func (c *Cluster) run(a *Agent) error {
	logf, err := os.OpenFile(a.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	a.cmd = exec.Command(a.argv[0], a.argv[1:]...)
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	a.cmd.Env = append(os.Environ(), c.Env...)
	// An agent dies with the harness, even when that is killed.
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		return fmt.Errorf("start agent %s: %w", a.Name, err)
	}
	cmd, done := a.cmd, a.done
	go func() { a.err = cmd.Wait(); close(done) }()
	return nil
}

// StartN starts n agents.
func (c *Cluster) StartN(n, voters int) error {
	for range n {
		if _, err := c.Start(voters); err != nil {
			return err
		}
	}
	return nil
}

// Stop drains every live agent (SIGTERM, SIGCONT for a stopped one) and
// kills those still there after grace.
func (c *Cluster) Stop(grace time.Duration) {
	for _, a := range c.Agents {
		if a.Alive() {
			_ = a.cmd.Process.Signal(syscall.SIGTERM)
			_ = a.cmd.Process.Signal(syscall.SIGCONT)
		}
	}
	t := time.After(grace)
	for _, a := range c.Agents {
		select {
		case <-a.done:
		case <-t:
			a.Kill()
		}
	}
}

// Live returns the agents whose process runs.
func (c *Cluster) Live() []*Agent {
	var out []*Agent
	for _, a := range c.Agents {
		if a.Alive() {
			out = append(out, a)
		}
	}
	return out
}

// Alive says whether the process still runs.
func (a *Agent) Alive() bool {
	select {
	case <-a.done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL and reaps the process.
func (a *Agent) Kill() {
	_ = a.cmd.Process.Kill()
	<-a.done
}

// Signal sends sig to the process.
func (a *Agent) Signal(sig syscall.Signal) error {
	if err := a.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s to agent %s: %w", sig, a.Name, err)
	}
	return nil
}

// Wait waits up to d for the process to exit and returns its exit error.
func (a *Agent) Wait(ctx context.Context, d time.Duration) error {
	select {
	case <-a.done:
		return a.err
	case <-time.After(d):
		return fmt.Errorf("agent %s still runs %s later (log %s)", a.Name, d, a.Log)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Count returns how many lines of the agent's log contain s.
func (a *Agent) Count(s string) int {
	b, _ := os.ReadFile(a.Log)
	return bytes.Count(b, []byte(s))
}

// Leads says whether the agent's log says it leads now (since its last
// start: a restarted agent's log holds its earlier life too).
func (a *Agent) Leads() bool {
	b, _ := os.ReadFile(a.Log)
	if i := bytes.LastIndex(b, []byte(`msg="agent started"`)); i > 0 {
		b = b[i:]
	}
	return bytes.LastIndex(b, []byte(`msg="leading the cluster"`)) > bytes.LastIndex(b, []byte(`msg="lost leadership"`))
}

// Tail returns the last n lines of the agent's log.
func (a *Agent) Tail(n int) string {
	b, _ := os.ReadFile(a.Log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Elections counts the terms of leadership in every agent's log: each
// "leading the cluster" line is one.
func (c *Cluster) Elections() int {
	n := 0
	for _, a := range c.Agents {
		n += a.Count(`msg="leading the cluster"`)
	}
	return n
}

// Promotions counts the promotions to Raft voter in every agent's log.
func (c *Cluster) Promotions() int {
	n := 0
	for _, a := range c.Agents {
		n += a.Count(`msg="promoted to raft voter"`)
	}
	return n
}

// LiveVoters returns the live agents that were made Raft voters (the
// first, and every one a leader promoted), except not.
func (c *Cluster) LiveVoters(not *Agent) []*Agent {
	var out []*Agent
	for _, a := range c.Live() {
		if a == not {
			continue
		}
		if a == c.Agents[0] || c.count(`msg="promoted to raft voter"`, "member="+a.Name+"\n") > 0 {
			out = append(out, a)
		}
	}
	return out
}

// count counts the log lines of all agents that hold every one of subs.
func (c *Cluster) count(subs ...string) int {
	n := 0
	for _, a := range c.Agents {
		b, _ := os.ReadFile(a.Log)
		for _, line := range strings.SplitAfter(string(b), "\n") {
			all := true
			for _, s := range subs {
				all = all && strings.Contains(line, s)
			}
			if all {
				n++
			}
		}
	}
	return n
}

// TimeoutElections counts elections started by a heartbeat timeout.
func (c *Cluster) TimeoutElections() int {
	n := 0
	for _, a := range c.Agents {
		n += a.Count("heartbeat timeout reached, starting election")
	}
	return n
}

// Leader waits until exactly one live agent leads and returns it.
func (c *Cluster) Leader(ctx context.Context, d time.Duration) (*Agent, error) {
	var found *Agent
	err := c.Eventually(ctx, d, "one live agent leads", func() bool {
		found = nil
		n := 0
		for _, a := range c.Live() {
			if a.Leads() {
				found, n = a, n+1
			}
		}
		return n == 1
	})
	return found, err
}

// Eventually polls cond every 20ms until it holds or d passes. The agents
// are external processes: their files are the only events the harness sees.
func (c *Cluster) Eventually(ctx context.Context, d time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: still not %s; agents' logs:\n%s", d, what, c.LogTails(8))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// LogTails returns the end of every agent's log, for failure messages.
func (c *Cluster) LogTails(n int) string {
	var b strings.Builder
	for _, a := range c.Agents {
		fmt.Fprintf(&b, "--- %s (alive %v, %s)\n%s\n", a.Name, a.Alive(), a.Log, a.Tail(n))
	}
	return b.String()
}

// ResultsPath is the campaign's results file.
func (c *Cluster) ResultsPath() string { return filepath.Join(c.State, "results.jsonl") }

// Finished counts the complete lines of the results file, or with a
// queue server the final tasks it counts (the last count while it does not
// answer).
func (c *Cluster) Finished() int {
	if c.up != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if st, err := c.up.Status(ctx); err == nil {
			c.lastDone = st.Done + st.Failed
		}
		return c.lastDone
	}
	b, err := os.ReadFile(c.ResultsPath())
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte("\n"))
}

// WaitFinished waits until the results file holds at least n lines.
func (c *Cluster) WaitFinished(ctx context.Context, n int, d time.Duration) error {
	return c.Eventually(ctx, d, fmt.Sprintf("%d results (have %d)", n, c.Finished()), func() bool { return c.Finished() >= n })
}

// Recovery waits for the results to grow past what they hold now (or to
// reach total, the whole queue) and returns how long that took: the time
// to recover from a fault just injected.
func (c *Cluster) Recovery(ctx context.Context, total int, d time.Duration) (time.Duration, error) {
	start, n := time.Now(), c.Finished()
	err := c.Eventually(ctx, d, "a new result after the fault", func() bool {
		f := c.Finished()
		return f > n || f >= total
	})
	return time.Since(start), err
}

// AttemptLogs lists the attempt log of every agent ever started.
func (c *Cluster) AttemptLogs() []string {
	var out []string
	for _, a := range c.Agents {
		out = append(out, filepath.Join(a.Data, "attempts.jsonl"))
	}
	return out
}

// Status runs 'pilot status --json' and returns its upstream counts.
func (c *Cluster) Status(ctx context.Context) (map[string]int, error) {
	cmd := exec.CommandContext(ctx, c.Bin, "status", "--queue", c.Queue, "--state", c.State, "--json", "--no-slurm")
	cmd.Env = append(os.Environ(), c.Env...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("pilot status: %w: %s", err, ee.Stderr)
		}
		return nil, fmt.Errorf("pilot status: %w", err)
	}
	return upstreamCounts(out)
}

// upstreamCounts picks the upstream counts out of 'status --json'.
func upstreamCounts(out []byte) (map[string]int, error) {
	var rep struct {
		Upstream map[string]json.RawMessage `json:"upstream"`
	}
	if err := json.Unmarshal(out, &rep); err != nil || rep.Upstream == nil {
		return nil, fmt.Errorf("pilot status --json printed no upstream object (%v):\n%s", err, out)
	}
	counts := map[string]int{}
	for k, v := range rep.Upstream {
		var n int
		if json.Unmarshal(v, &n) == nil { // not leased_by, a map
			counts[k] = n
		}
	}
	return counts, nil
}
