package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cluster is a campaign worked by agent processes on this machine.
type cluster struct {
	t      *testing.T
	dir    string
	queue  string // the JSONL queue file
	state  string // the campaign's state directory
	agents []*agent
}

// agent is one 'pilot agent' process.
type agent struct {
	name string
	data string // its node-local directory (attempts.jsonl, the Raft log)
	log  string // its stdout and stderr
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped
	err  error         // its exit, once done
}

// agentOpts are the flags that differ between agents of a test.
type agentOpts struct {
	cores     int
	bootstrap bool
	voters    int
	state     string   // another campaign's state directory; "" the cluster's
	join      []string // gossip seeds; nil: the members file
	extra     []string
}

// newCluster makes a campaign directory with the given queue lines.
func newCluster(t *testing.T, lines []string) *cluster {
	t.Helper()
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir, queue: filepath.Join(dir, "q.jsonl")}
	c.state = c.queue + ".pilot"
	if err := os.WriteFile(c.queue, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.keepLogs)
	t.Cleanup(c.stopAll)
	return c
}

// stopAll ends every agent at cleanup: a drain (SIGTERM) of all at once
// with a short grace, then SIGKILL, so no process outlives its test.
func (c *cluster) stopAll() {
	for _, a := range c.agents {
		if a.alive() {
			_ = a.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	grace := time.After(15 * time.Second)
	for _, a := range c.agents {
		select {
		case <-a.done:
		case <-grace:
			c.t.Logf("agent %s did not drain within 15s: killed", a.name)
			a.kill(c.t)
		}
	}
}

// keepLogs copies the agents' logs and attempt logs of a failed test (of
// every test with PILOT_E2E_KEEP_ALL=1) to $PILOT_E2E_LOGS/TEST/, when that
// is set, before t.TempDir goes away.
func (c *cluster) keepLogs() {
	root := os.Getenv("PILOT_E2E_LOGS")
	if root == "" || (!c.t.Failed() && os.Getenv("PILOT_E2E_KEEP_ALL") == "") {
		return
	}
	dst := filepath.Join(root, c.t.Name())
	if err := os.MkdirAll(dst, 0o700); err != nil {
		c.t.Log(err)
		return
	}
	for _, a := range c.agents {
		for src, name := range map[string]string{a.log: a.name + ".log", filepath.Join(a.data, "attempts.jsonl"): a.name + ".attempts.jsonl"} {
			if b, err := os.ReadFile(src); err == nil {
				_ = os.WriteFile(filepath.Join(dst, name), b, 0o600)
			}
		}
	}
	if b, err := os.ReadFile(c.resultsPath()); err == nil {
		_ = os.WriteFile(filepath.Join(dst, "results.jsonl"), b, 0o600)
	}
	c.t.Logf("logs kept in %s", dst)
}

// start starts agent name; the first agent of a cluster should bootstrap.
func (c *cluster) start(name string, o agentOpts) *agent {
	c.t.Helper()
	a := &agent{name: name, data: filepath.Join(c.dir, "data", name), log: filepath.Join(c.dir, name+".log"), done: make(chan struct{})}
	state := c.state
	if o.state != "" {
		state = o.state
	}
	if o.cores == 0 {
		o.cores = 2
	}
	if o.voters == 0 {
		o.voters = 3
	}
	cpus := make([]string, o.cores)
	for i := range cpus {
		cpus[i] = strconv.Itoa(i % 2)
	}
	args := []string{"agent", "--queue", c.queue, "--state", state, "--name", name, "--pilot", name,
		"--data", a.data, "--bind", "127.0.0.1", "--loopback", "--cores", strconv.Itoa(o.cores),
		"--cpus", strings.Join(cpus, ","), "--voters", strconv.Itoa(o.voters), "--lease-ttl", "30s",
		"--drain-margin", "20s"}
	if o.bootstrap {
		args = append(args, "--bootstrap")
	}
	if len(o.join) > 0 {
		args = append(args, "--join", strings.Join(o.join, ","))
	}
	args = append(args, o.extra...)
	logf, err := os.OpenFile(a.log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	defer logf.Close()
	a.cmd = exec.Command(pilotBin, args...)
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	// The agent dies with the test binary, even when that is killed.
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		c.t.Fatalf("start agent %s: %v", name, err)
	}
	go func() { a.err = a.cmd.Wait(); close(a.done) }()
	c.agents = append(c.agents, a)
	return a
}

// startN starts n agents named a0..a(n-1), the first bootstrapping.
func (c *cluster) startN(n int, o agentOpts) []*agent {
	out := make([]*agent, n)
	for i := range out {
		oi := o
		oi.bootstrap = i == 0
		out[i] = c.start(fmt.Sprintf("a%d", i), oi)
	}
	return out
}

// alive says whether the process still runs.
func (a *agent) alive() bool {
	select {
	case <-a.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and reaps the process.
func (a *agent) kill(t *testing.T) {
	t.Helper()
	_ = a.cmd.Process.Kill()
	<-a.done
}

// signal sends sig to the agent.
func (a *agent) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := a.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s to agent %s: %v", sig, a.name, err)
	}
}

// wait waits for the process to exit within d and returns its exit error.
func (a *agent) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-a.done:
		return a.err
	case <-time.After(d):
		t.Fatalf("agent %s still runs %s later; its log:\n%s", a.name, d, a.tail(40))
		return nil
	}
}

// logText returns the agent's log so far.
func (a *agent) logText() string {
	b, _ := os.ReadFile(a.log)
	return string(b)
}

// tail returns the last n lines of the agent's log.
func (a *agent) tail(n int) string {
	lines := strings.Split(strings.TrimRight(a.logText(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// count returns how many lines of the agent's log contain s.
func (a *agent) count(s string) int { return strings.Count(a.logText(), s) }

// leads says whether the agent's log says it leads now: its last
// "leading the cluster" comes after its last "lost leadership".
func (a *agent) leads() bool {
	text := a.logText()
	return strings.LastIndex(text, `msg="leading the cluster"`) > strings.LastIndex(text, `msg="lost leadership"`)
}

var gossipRe = regexp.MustCompile(`msg="agent started".* gossip=(\S+)`)

// gossipAddr is the agent's gossip address, from its log; "" until known.
func (a *agent) gossipAddr() string {
	m := gossipRe.FindStringSubmatch(a.logText())
	if m == nil {
		return ""
	}
	return m[1]
}

// leader polls until exactly one live agent leads and returns it.
func (c *cluster) leader(d time.Duration) *agent {
	c.t.Helper()
	var found *agent
	c.eventually(d, "one live agent leads", func() bool {
		found = nil
		n := 0
		for _, a := range c.agents {
			if a.alive() && a.leads() {
				found, n = a, n+1
			}
		}
		return n == 1
	})
	return found
}

// eventually polls cond every 20ms until it holds or d passes. The agents
// are external processes: their files are the only events a test sees.
func (c *cluster) eventually(d time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("after %s: still not %s; agents' logs:\n%s", d, what, c.logTails(15))
		}
		<-tick.C
	}
}

// logTails returns the end of every agent's log, for failure messages.
func (c *cluster) logTails(n int) string {
	var b strings.Builder
	for _, a := range c.agents {
		fmt.Fprintf(&b, "--- %s (alive %v)\n%s\n", a.name, a.alive(), a.tail(n))
	}
	return b.String()
}

// resultsPath is the campaign's results file.
func (c *cluster) resultsPath() string { return filepath.Join(c.state, "results.jsonl") }

// finished counts the complete lines of the results file.
func (c *cluster) finished() int {
	b, err := os.ReadFile(c.resultsPath())
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte("\n"))
}

// waitFinished waits until the results file holds at least n lines.
func (c *cluster) waitFinished(n int, d time.Duration) {
	c.t.Helper()
	c.eventually(d, fmt.Sprintf("%d results", n), func() bool { return c.finished() >= n })
}

// readLines returns the lines of a JSONL file.
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
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			out = append(out, bytes.Clone(sc.Bytes()))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return out
}
