package pilot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pilot-hpc/pilot/internal/timerslack"
	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// LocalConfig configures 'pilot local': a whole cluster of agent processes
// on this machine, working one queue.
type LocalConfig struct {
	// Nodes is how many agent processes to start.
	Nodes int
	// Queue is the campaign's JSONL file (or a queue server URL).
	Queue string
	// StateDir is the campaign's state directory (default QUEUE.pilot/).
	StateDir string
	// CoresPerNode is what each agent offers; 0: this machine's CPUs
	// shared out among the agents (at least one each).
	CoresPerNode int
	// Follow keeps the cluster up for lines appended later, until ctx ends.
	Follow bool
	// Binary is the pilot binary to start agents from; the agents run
	// 'BINARY agent ...'.
	Binary string
	// AgentArgs are extra flags for every agent.
	AgentArgs []string
	// AgentTimerSlack is the timer slack the agents' threads sleep with:
	// they start with it, so need not execute themselves again for it
	// (see internal/timerslack); 0: this process's.
	AgentTimerSlack time.Duration
	// Progress receives the progress line; nil: none.
	Progress io.Writer
	// Poll is how often progress is read from upstream (default 250ms);
	// ten times as often once few tasks remain, and for a queue file then
	// also whenever its results file grows (looked at every few
	// milliseconds), so the run ends (and its summary's wall time) within
	// milliseconds of the last result.
	Poll time.Duration
}

// LocalSummary is what a local run did.
type LocalSummary struct {
	Nodes       int     `json:"nodes"`
	Cores       int     `json:"cores"`
	Tasks       int     `json:"tasks"`
	Done        int     `json:"done"`
	Failed      int     `json:"failed"`
	WallS       float64 `json:"wall_s"`
	TasksPerS   float64 `json:"tasks_per_s"`
	BusyCoreS   float64 `json:"busy_core_s"`
	Utilization float64 `json:"utilization"` // busy core-seconds / (cores × wall)
	Results     string  `json:"results"`     // where the results are
	Logs        string  `json:"logs"`        // the agents' logs
}

// RunLocal starts the agents, waits until every task of the queue is final
// (or ctx ends when following), stops the agents with a drain, and sums up.
func RunLocal(ctx context.Context, cfg LocalConfig) (LocalSummary, error) {
	var sum LocalSummary
	if cfg.Nodes < 1 {
		return sum, fmt.Errorf("--nodes %d: need at least one agent", cfg.Nodes)
	}
	queue := cfg.Queue
	if !isURL(queue) {
		abs, err := filepath.Abs(queue)
		if err != nil {
			return sum, err
		}
		if _, err := os.Stat(abs); err != nil {
			return sum, fmt.Errorf("queue file: %w", err)
		}
		queue = abs
	}
	if cfg.StateDir == "" {
		if isURL(queue) {
			return sum, errors.New("a queue URL needs --state DIR for the campaign's state")
		}
		cfg.StateDir = queue + ".pilot"
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.Poll == 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	cores := cfg.CoresPerNode
	if cores == 0 {
		cores = max(1, runtime.NumCPU()/cfg.Nodes)
	}
	q, err := upstream.Open(queue, upstream.Options{File: upstream.FileOptions{StateDir: cfg.StateDir}})
	if err != nil {
		return sum, err
	}
	defer q.Close()
	cursor, err := resultsEnd(ctx, q)
	if err != nil {
		return sum, err
	}

	dataRoot, err := os.MkdirTemp("", "pilot-local-")
	if err != nil {
		return sum, err
	}
	defer os.RemoveAll(dataRoot)
	logDir := filepath.Join(cfg.StateDir, "logs")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return sum, err
	}
	start := time.Now()
	agents, err := startAgents(cfg, queue, dataRoot, logDir, cores)
	defer stopAgents(agents)
	if err != nil {
		return sum, err
	}
	exited := make(chan error, len(agents))
	for _, a := range agents {
		go func() {
			<-a.done
			if !a.stopping.Load() {
				exited <- fmt.Errorf("agent %s: %v", a.name, a.err)
			}
		}()
	}

	alive := len(agents)
	prog := newProgress(cfg.Progress)
	poll := time.NewTicker(cfg.Poll)
	defer poll.Stop()
	fast := false
	grew := resultsGrowth(queue, cfg.StateDir)
	var st upstream.Status
	var read time.Time
	for {
		// A status read walks every line of the queue: read often only
		// near the end, and then as soon as results arrive.
		if !fast || grew() || time.Since(read) >= cfg.Poll/10 {
			read = time.Now()
			st, err = q.Status(ctx)
			if err == nil {
				finished := !cfg.Follow && st.Pending == 0 && st.Leased == 0
				prog.show(st, time.Since(start), finished)
				if finished {
					break
				}
				if !fast && st.Pending+st.Leased <= fewLeft {
					fast = true
					look := cfg.Poll / 10
					if !isURL(queue) {
						look = resultsLook
					}
					poll.Reset(look)
				}
			}
		}
		select {
		case <-ctx.Done():
			prog.done()
			return sum, ctx.Err()
		case err := <-exited:
			alive--
			if alive == 0 {
				prog.done()
				return sum, fmt.Errorf("every agent exited (the last: %v): see their logs in %s", err, logDir)
			}
			fmt.Fprintf(cfg.Progress, "\nwarning: %v; %d agents carry on (log: %s)\n", err, alive, logDir)
		case <-poll.C:
		}
	}
	prog.done()
	sum.WallS = time.Since(start).Seconds()
	// Every result is written: read them while the agents drain.
	resultsRead := make(chan error, 1)
	var results []task.Result
	go func() {
		var err error
		results, err = readResults(ctx, q, cursor)
		resultsRead <- err
	}()
	stopAgents(agents)
	if err := <-resultsRead; err != nil {
		return sum, err
	}
	sum.Nodes, sum.Cores, sum.Logs = cfg.Nodes, cores*cfg.Nodes, logDir
	sum.Results = filepath.Join(cfg.StateDir, "results.jsonl")
	sum.Tasks = st.Done + st.Failed
	sum.Done, sum.Failed = st.Done, st.Failed
	for _, r := range results {
		sum.BusyCoreS += r.CoreS
	}
	if sum.WallS > 0 {
		sum.TasksPerS = float64(len(results)) / sum.WallS
		sum.Utilization = sum.BusyCoreS / (float64(sum.Cores) * sum.WallS)
	}
	return sum, nil
}

// fewLeft is how many unfinished tasks make the end near; then the
// results file of a queue file is looked at every resultsLook.
const (
	fewLeft     = 1000
	resultsLook = 2 * time.Millisecond
)

// resultsGrowth returns a function that says whether the results file of
// a queue file grew since it last looked (a stat); for a queue URL it
// always says no.
func resultsGrowth(queue, stateDir string) func() bool {
	if isURL(queue) {
		return func() bool { return false }
	}
	path := filepath.Join(stateDir, "results.jsonl")
	var size int64 = -1
	return func() bool {
		fi, err := os.Stat(path)
		if err != nil {
			return false
		}
		grew := fi.Size() != size
		size = fi.Size()
		return grew
	}
}

// localAgent is one agent process.
type localAgent struct {
	name     string
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process is reaped
	err      error         // its exit, once done
	stopping atomic.Bool
}

func startAgents(cfg LocalConfig, queue, dataRoot, logDir string, cores int) ([]*localAgent, error) {
	ncpu := runtime.NumCPU()
	var agents []*localAgent
	for i := 0; i < cfg.Nodes; i++ {
		name := fmt.Sprintf("local-%d", i)
		cpus := make([]string, cores)
		for k := range cpus {
			cpus[k] = strconv.Itoa((i*cores + k) % ncpu)
		}
		args := []string{"agent",
			"--queue", queue, "--state", cfg.StateDir, "--name", name, "--pilot", name,
			"--data", filepath.Join(dataRoot, name), "--bind", "127.0.0.1", "--loopback",
			"--cores", strconv.Itoa(cores), "--cpus", strings.Join(cpus, ","),
			"--voters", strconv.Itoa(voters(cfg.Nodes)), "--lease-ttl", "30s",
		}
		if i == 0 {
			args = append(args, "--bootstrap")
		}
		args = append(args, cfg.AgentArgs...)
		log, err := os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return agents, err
		}
		c := exec.Command(cfg.Binary, args...)
		c.Stdout, c.Stderr = log, log
		// An agent dies with 'pilot local', even when that is killed.
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		err = timerslack.Start(c, cfg.AgentTimerSlack)
		log.Close()
		if err != nil {
			return agents, fmt.Errorf("start agent %s: %w", name, err)
		}
		a := &localAgent{name: name, cmd: c, done: make(chan struct{})}
		go func() { a.err = c.Wait(); close(a.done) }()
		agents = append(agents, a)
	}
	return agents, nil
}

// stopAgents drains every agent (SIGTERM) and kills those still there
// after a grace period. Calling it again does nothing more.
func stopAgents(agents []*localAgent) {
	for _, a := range agents {
		a.stopping.Store(true)
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
	}
	grace := time.After(30 * time.Second)
	for _, a := range agents {
		select {
		case <-a.done:
		case <-grace:
			_ = a.cmd.Process.Kill()
			<-a.done
		}
	}
}

// resultsEnd is the cursor after every result already recorded.
func resultsEnd(ctx context.Context, q upstream.Queue) (upstream.Cursor, error) {
	var cur upstream.Cursor
	for {
		page, next, err := q.Results(ctx, cur, 10000)
		if err != nil {
			return cur, err
		}
		if len(page) == 0 || next == cur {
			return cur, nil
		}
		cur = next
	}
}

func readResults(ctx context.Context, q upstream.Queue, from upstream.Cursor) ([]task.Result, error) {
	var out []task.Result
	cur := from
	for {
		page, next, err := q.Results(ctx, cur, 10000)
		if err != nil {
			return out, err
		}
		out = append(out, page...)
		if len(page) == 0 || next == cur {
			return out, nil
		}
		cur = next
	}
}

func isURL(s string) bool {
	return len(s) > 7 && (s[:7] == "http://" || (len(s) > 8 && s[:8] == "https://"))
}

// voters is the odd number of Raft voters a local cluster of n agents keeps.
func voters(n int) int {
	if n >= 3 {
		return 3
	}
	return 1
}
