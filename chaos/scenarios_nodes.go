package chaos

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"
)

// sleepQueue is n tasks that sleep secs each, ids t0000...; each has its
// id as input so every task has its own cache entry and really runs.
func sleepQueue(n int, secs float64) []byte {
	var b strings.Builder
	for i := range n {
		id := fmt.Sprintf("t%04d", i)
		fmt.Fprintf(&b, `{"id":%q,"cmd":["sleep","%g"],"input":%q,"timeout_s":30}`+"\n", id, secs, id)
	}
	return []byte(b.String())
}

// newRun makes the cluster of a scenario with queue data and starts n
// agents keeping 3 voters; it waits for the first leader and, with n > 3,
// for three voters.
func newRun(ctx context.Context, env *Env, data []byte, n int) (*Cluster, error) {
	c, err := NewCluster(env.Bin, env.Dir, data)
	if err != nil {
		return nil, err
	}
	if err := c.StartN(n, 3); err != nil {
		c.Stop(5 * time.Second)
		return nil, err
	}
	if _, err := c.Leader(ctx, 30*time.Second); err != nil {
		c.Stop(5 * time.Second)
		return nil, err
	}
	if n > 3 {
		if err := c.Eventually(ctx, 30*time.Second, "three voters", func() bool { return c.Promotions() >= 2 }); err != nil {
			c.Stop(5 * time.Second)
			return nil, err
		}
	}
	return c, nil
}

// at picks a point of progress at random in [lo, hi) of n results.
func at(env *Env, n int, lo, hi float64) int {
	return int(float64(n) * (lo + (hi-lo)*env.Rand.Float64()))
}

// leaderKillLoop is scenario 1: kill -9 the leader, again and again; a
// new agent (a new pilot) replaces each one.
var leaderKillLoop = Scenario{ID: 1, Name: "leader-kill-loop",
	Scaled: "4 agents (3 voters) x 2 cores, 240*scale tasks of 0.2 s; the leader killed 3 times at random points; a new agent starts at once (not after 5 s); each kill waits until the dead voter is replaced",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		n := 240 * env.Scale
		c, err := newRun(ctx, env, sleepQueue(n, 0.2), 4)
		if err != nil {
			return out, err
		}
		defer c.Stop(5 * time.Second)
		const kills = 3
		for k := range kills {
			if err := c.WaitFinished(ctx, at(env, n, float64(k)/(kills+1), float64(k+1)/(kills+1)), 120*time.Second); err != nil {
				return out, err
			}
			lead, err := c.Leader(ctx, 30*time.Second)
			if err != nil {
				return out, err
			}
			before := c.Promotions()
			env.Logf("kill -9 the leader %s at %d results", lead.Name, c.Finished())
			lead.Kill()
			if _, err := c.Start(3); err != nil {
				return out, err
			}
			rec, err := c.Recovery(ctx, n, 60*time.Second)
			if err != nil {
				return out, err
			}
			out.Recover = max(out.Recover, rec)
			if err := c.Eventually(ctx, 60*time.Second, "the dead voter replaced", func() bool { return c.Promotions() > before }); err != nil {
				return out, err
			}
		}
		return out, finish(ctx, c, n, 120*time.Second, &out)
	}}

// nodeDeath is scenario 11: kill -9 a worker that is not the leader.
var nodeDeath = Scenario{ID: 11, Name: "node-death", CI: true,
	Scaled: "4 agents (3 voters) x 2 cores, 200*scale tasks of 0.2 s; one random non-leader killed at a random point, no replacement",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		n := 200 * env.Scale
		c, err := newRun(ctx, env, sleepQueue(n, 0.2), 4)
		if err != nil {
			return out, err
		}
		defer c.Stop(5 * time.Second)
		if err := c.WaitFinished(ctx, at(env, n, 0.2, 0.6), 120*time.Second); err != nil {
			return out, err
		}
		lead, err := c.Leader(ctx, 30*time.Second)
		if err != nil {
			return out, err
		}
		victim := pickOther(env, c, lead)
		env.Logf("kill -9 the worker %s at %d results", victim.Name, c.Finished())
		victim.Kill()
		if out.Recover, err = c.Recovery(ctx, n, 60*time.Second); err != nil {
			return out, err
		}
		return out, finish(ctx, c, n, 120*time.Second, &out)
	}}

// pickOther picks a live agent other than not, at random.
func pickOther(env *Env, c *Cluster, not *Agent) *Agent {
	var cand []*Agent
	for _, a := range c.Live() {
		if a != not {
			cand = append(cand, a)
		}
	}
	return cand[env.Rand.IntN(len(cand))]
}

// pauseNotCrash is scenario 19: SIGSTOP an agent (the leader or not, at
// random) for longer than the failure detection, then SIGCONT.
var pauseNotCrash = Scenario{ID: 19, Name: "pause-not-crash", CI: true,
	Scaled: "4 agents (3 voters) x 2 cores, 200*scale tasks of 0.2 s; one random agent (leader included) SIGSTOPped for 3-6 s (well past the loopback suspicion timeout), or until the next result if that comes later, then SIGCONT",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		n := 200 * env.Scale
		c, err := newRun(ctx, env, sleepQueue(n, 0.2), 4)
		if err != nil {
			return out, err
		}
		defer c.Stop(5 * time.Second)
		if err := c.WaitFinished(ctx, at(env, n, 0.2, 0.5), 120*time.Second); err != nil {
			return out, err
		}
		victim := c.Live()[env.Rand.IntN(len(c.Live()))]
		pause := time.Duration(3000+env.Rand.IntN(3000)) * time.Millisecond
		leader := victim.Leads()
		env.Logf("SIGSTOP %s (leader %v) for %s at %d results", victim.Name, leader, pause, c.Finished())
		if err := victim.Signal(syscall.SIGSTOP); err != nil {
			return out, err
		}
		rec, rerr := c.Recovery(ctx, n, 60*time.Second)
		// The pause is the fault: a fixed span of wall time is its measure.
		time.Sleep(max(0, pause-rec))
		if err := victim.Signal(syscall.SIGCONT); err != nil {
			return out, err
		}
		if rerr != nil {
			return out, rerr
		}
		out.Recover = rec
		err = finish(ctx, c, n, 120*time.Second, &out)
		// The agent stays stopped until the next result: a cluster that
		// cannot go on without it shows as a long pause and recovery.
		out.Note = fmt.Sprintf("paused the %s for %s", map[bool]string{true: "leader", false: "worker"}[leader], max(pause, rec).Round(100*time.Millisecond))
		return out, err
	}}

// plannedChurn is scenario 7: voters drain one after another (SIGUSR1,
// what Slurm sends before the walltime) and new agents replace them. A
// planned exit hands leadership over: no election may start on a timeout.
var plannedChurn = Scenario{ID: 7, Name: "planned-churn", CI: true,
	Scaled: "4 agents (3 voters) x 2 cores, 240*scale tasks of 0.2 s; 3 drains (SIGUSR1) of the leader or another voter (a coin toss), each replaced by a new agent once the drained one has left",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		n := 240 * env.Scale
		c, err := newRun(ctx, env, sleepQueue(n, 0.2), 4)
		if err != nil {
			return out, err
		}
		defer c.Stop(5 * time.Second)
		timeouts := c.TimeoutElections()
		const drains = 3
		for k := range drains {
			if err := c.WaitFinished(ctx, at(env, n, float64(k)/(drains+1), float64(k+1)/(drains+1)), 120*time.Second); err != nil {
				return out, err
			}
			lead, err := c.Leader(ctx, 30*time.Second)
			if err != nil {
				return out, err
			}
			victim := lead
			if others := c.LiveVoters(lead); len(others) > 0 && env.Rand.IntN(2) == 0 {
				victim = others[env.Rand.IntN(len(others))]
			}
			before := c.Promotions()
			env.Logf("drain %s (leader %v) at %d results", victim.Name, victim == lead, c.Finished())
			if err := victim.Signal(syscall.SIGUSR1); err != nil {
				return out, err
			}
			if err := victim.Wait(ctx, 45*time.Second); err != nil {
				out.Report.violate("the drained agent %s: %v", victim.Name, err)
			}
			if _, err := c.Start(3); err != nil {
				return out, err
			}
			rec, err := c.Recovery(ctx, n, 60*time.Second)
			if err != nil {
				return out, err
			}
			out.Recover = max(out.Recover, rec)
			if err := c.Eventually(ctx, 30*time.Second, "three voters again", func() bool { return c.Promotions() > before }); err != nil {
				return out, err
			}
		}
		early := out.Report.Violations
		err = finish(ctx, c, n, 120*time.Second, &out)
		out.Report.Violations = append(early, out.Report.Violations...)
		if d := c.TimeoutElections() - timeouts; d > 0 {
			out.Report.violate("planned exits caused %d elections started by a heartbeat timeout; want 0", d)
		}
		return out, err
	}}
