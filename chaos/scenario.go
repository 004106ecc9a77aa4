package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"
)

// Env is what a scenario run gets: the binary, its own directory and its
// seeded source of randomness (every random choice of the fault schedule
// comes from Rand, so a seed replays the schedule).
type Env struct {
	Bin  string
	Dir  string
	Seed uint64
	Rand *rand.Rand
	// Scale multiplies the number of tasks (1: the short size CI runs).
	Scale int
	// Logf reports progress; it must be safe for concurrent use.
	Logf func(format string, a ...any)
}

// Outcome is what one run of a scenario measured.
type Outcome struct {
	Report    Report
	Elections int           // terms of leadership in all the agents' logs
	Recover   time.Duration // the longest wait for the next result after a fault
	Note      string        // what the scenario observed beyond the counts
}

// Scenario is one way of trying to break the system. Run builds its
// cluster in env.Dir, injects its faults, waits for the queue to drain,
// stops every process it started and returns the checker's report.
type Scenario struct {
	ID     int    // its number in RELIABILITY.md
	Name   string // short, for the table and -run
	Scaled string // how it is scaled down from RELIABILITY.md
	// CI: 'go test ./chaos/' runs it (short and cheap); the rest run in
	// 'make chaos' (and in go test with CHAOS_ALL=1).
	CI  bool
	Run func(ctx context.Context, env *Env) (Outcome, error)
}

// Scenarios lists every scenario the suite has, in table order.
func Scenarios() []Scenario {
	return []Scenario{
		leaderKillLoop, crashPersist, leaderPartition, quorumLoss, nodeDeath, pauseNotCrash, udpBlocked, packetLoss, plannedChurn, allEnd, walltimePlacement,
		poisonTask, hungTree, lateCompletion, flushUnderLoad, malformed, mutatingQueue,
		upstreamOutage, upstreamFaults, cacheIntegrity, diskFull,
	}
}

// finish waits for every task of c's queue to have a record, stops the
// agents with a drain, and checks the run (INV-1, 2, 3, 4 and 6).
func finish(ctx context.Context, c *Cluster, want int, d time.Duration, out *Outcome) error {
	return finishPending(ctx, c, want, d, out, false)
}

// finishPending is finish for a run where want is less than the queue:
// with mayPend the tasks with no record must be visibly pending.
func finishPending(ctx context.Context, c *Cluster, want int, d time.Duration, out *Outcome, mayPend bool) error {
	werr := c.WaitFinished(ctx, want, d)
	var cerr error
	if werr == nil {
		cerr = c.Converged(ctx, 15*time.Second)
	}
	c.Stop(20 * time.Second)
	out.Elections = c.Elections()
	input := c.Queue
	if c.up != nil {
		input = c.input
		if err := fetchResults(ctx, c.up, c.ResultsPath()); err != nil {
			return err
		}
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	var logs [][]string
	for _, a := range c.Agents {
		for len(logs) <= a.raft {
			logs = append(logs, nil)
		}
		logs[a.raft] = append(logs[a.raft], a.Log)
	}
	rep, err := Check(Input{Queue: input, Results: c.ResultsPath(), Flushed: filepath.Join(c.State, "flushed"),
		AttemptLogs: c.AttemptLogs(), AgentLogs: logs, Status: st, MayPend: mayPend})
	out.Report = rep
	if err != nil {
		return err
	}
	if werr != nil {
		out.Report.violate("the queue did not drain: %v", werr)
	}
	if cerr != nil {
		out.Report.violate("%v", cerr)
	}
	if n := out.Report.CrashedNodes; n > 0 {
		out.Note = fmt.Sprintf("%d tasks failed as crashed-nodes", n)
	}
	return nil
}

// Run is one run of a scenario in the suite.
type Run struct {
	Scenario string
	Seed     uint64
	Outcome  Outcome
	Err      error // the harness failed (not an invariant): the run says nothing
	Wall     time.Duration
}

// Failed says whether the run broke an invariant or could not run.
func (r Run) Failed() bool { return r.Err != nil || !r.Outcome.Report.OK() }

// RunOne runs scenario s once with seed in dir.
func RunOne(ctx context.Context, s Scenario, bin, dir string, seed uint64, scale int, logf func(string, ...any)) Run {
	env := &Env{Bin: bin, Dir: dir, Seed: seed, Rand: rand.New(rand.NewPCG(seed, uint64(s.ID))), Scale: max(scale, 1), Logf: logf}
	start := time.Now()
	out, err := s.Run(ctx, env)
	r := Run{Scenario: s.Name, Seed: seed, Outcome: out, Err: err, Wall: time.Since(start)}
	if err != nil {
		r.Err = fmt.Errorf("scenario %d %s, CHAOS_SEED=%d: %w", s.ID, s.Name, seed, err)
	}
	return r
}
