package chaos

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// snapshotEvery is the Raft snapshot threshold of scenario 6's agents:
// small, so snapshots are persisted all the time and kills land in them.
const snapshotEvery = 32

// crashPersist is scenario 6: kill -9 agents, the leader and the others,
// at random moments while the Raft log is appended under load and
// snapshots are persisted every few dozen entries, and restart each one
// on its own data directory under its name. Each must come back with no
// repair and rejoin, the replicas must converge, and no task may be lost
// or recorded twice.
var crashPersist = Scenario{ID: 6, Name: "crash-persist", CI: true,
	Scaled: "4 agents (3 voters) x 2 cores, 400*scale tasks of 0.5 s, Raft snapshots every 32 entries (checked every second); up to 6*scale (3 under go test) kill -9 of the leader or another agent (a coin toss) 0.3-2 s after the last one caught up, each restarted on its data directory 0-1 s later, while the queue lasts (not 200 iterations, no fault point inside the log store)",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		n := 400 * env.Scale
		c, err := NewCluster(env.Bin, env.Dir, sleepQueue(n, 0.5))
		if err != nil {
			return out, err
		}
		c.Extra = []string{"--snapshot-threshold", fmt.Sprint(snapshotEvery)}
		defer c.Stop(5 * time.Second)
		if err := c.StartN(4, 3); err != nil {
			return out, err
		}
		if _, err := c.Leader(ctx, 30*time.Second); err != nil {
			return out, err
		}
		if err := c.Eventually(ctx, 30*time.Second, "three voters", func() bool { return c.Promotions() >= 2 }); err != nil {
			return out, err
		}
		most := 6 * env.Scale
		if testing.Testing() {
			most = 3 // CI's share
		}
		kills, leaders, back := 0, 0, time.Duration(0)
		for kills < most && c.Finished() < n {
			time.Sleep(time.Duration(300+env.Rand.IntN(1700)) * time.Millisecond) // a random moment is the fault
			lead, err := c.Leader(ctx, 30*time.Second)
			if err != nil {
				return out, err
			}
			victim := lead
			if env.Rand.IntN(2) == 0 {
				victim = pickOther(env, c, lead)
			} else {
				leaders++
			}
			env.Logf("kill -9 %s (leader %v) at %d results", victim.Name, victim == lead, c.Finished())
			victim.Kill()
			kills++
			time.Sleep(time.Duration(env.Rand.IntN(1000)) * time.Millisecond)
			target := maxApplied(ctx, c)
			if err := c.Restart(victim); err != nil {
				return out, err
			}
			restarted := time.Now()
			// Back means its replica of the ledger caught up with where
			// the others were when it restarted: it rejoined gossip and
			// Raft with no repair.
			var at uint64
			if err := c.Eventually(ctx, 60*time.Second, fmt.Sprintf("%s restarted on its data and caught up to index %d", victim.Name, target), func() bool {
				at = applied(ctx, victim)
				return !victim.Alive() || at >= target
			}); err != nil {
				return out, fmt.Errorf("%w (its replica is at index %d)", err, at)
			}
			if !victim.Alive() {
				return out, fmt.Errorf("agent %s exited when restarted on its data directory %s:\n%s", victim.Name, victim.Data, victim.Tail(20))
			}
			back = max(back, time.Since(restarted))
		}
		out.Recover = back
		err = finish(ctx, c, n, 120*time.Second, &out)
		snaps, tmps := snapshotDirs(c)
		for _, t := range tmps {
			out.Report.violate("crash-persist: a snapshot left half-written: %s", t)
		}
		out.Note = joinNotes(fmt.Sprintf("%d kills (%d of the leader), caught up within %s of a restart, %d snapshots on disk at the end", kills, leaders, back.Round(100*time.Millisecond), snaps), out.Note)
		return out, err
	}}

// applied is the index of a's replica of the ledger (0 when it does not
// answer).
func applied(ctx context.Context, a *Agent) uint64 {
	return ledgerMetric(ctx, a, "pilot_ledger_applied_index")
}

// ledgerMetric is the value of one unlabelled ledger metric of a's replica
// (0 when it does not answer).
func ledgerMetric(ctx context.Context, a *Agent, name string) uint64 {
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	f, err := a.fingerprint(fctx)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(f, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	return 0
}

// maxApplied is the highest index of the live agents' replicas.
func maxApplied(ctx context.Context, c *Cluster) uint64 {
	var m uint64
	for _, a := range c.Live() {
		m = max(m, applied(ctx, a))
	}
	return m
}

// snapshotDirs counts the Raft snapshots in every agent's data directory
// and lists those left half-written (raft's .tmp directories).
func snapshotDirs(c *Cluster) (int, []string) {
	n := 0
	var tmps []string
	for _, a := range c.Agents {
		dirs, _ := filepath.Glob(filepath.Join(a.Data, "raft", "snapshots", "*"))
		for _, d := range dirs {
			if strings.HasSuffix(d, ".tmp") {
				tmps = append(tmps, d)
			} else {
				n++
			}
		}
	}
	return n, tmps
}
