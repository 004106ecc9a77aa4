package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDrainLeaderMidRun sends SIGUSR1 to the leader mid-run (what Slurm
// sends before the walltime). It must leave cleanly (exit 0, "left the
// cluster") after handing leadership over: exactly one more term of
// leadership in the whole cluster and no election started by a timeout,
// and nothing may be lost: its stopped tasks are requeued without
// spending a retry and every task ends done, once.
func TestDrainLeaderMidRun(t *testing.T) {
	skipShort(t)
	const n = 300
	lines, ids := sleepTasks(n, "0.1")
	c := newCluster(t, lines)
	c.startN(4, agentOpts{cores: 2})
	lead := c.leader(30 * time.Second)
	c.eventually(30*time.Second, "three voters", func() bool { return lead.count(`msg="promoted to raft voter"`) >= 2 })
	c.waitFinished(n/4, 60*time.Second)
	timeouts := map[string]int{}
	for _, a := range c.agents {
		timeouts[a.name] = a.count("heartbeat timeout reached, starting election")
	}

	t.Logf("draining the leader %s at %d results", lead.name, c.finished())
	drainAt := time.Now()
	lead.signal(t, syscall.SIGUSR1)
	if err := lead.wait(t, 45*time.Second); err != nil {
		t.Errorf("the drained agent exited with %v; its log:\n%s", err, lead.tail(30))
	}
	for _, want := range []string{`msg=draining node=` + lead.name + ` reason="drain signal"`, `msg="left the cluster"`} {
		if lead.count(want) != 1 {
			t.Errorf("the drained agent's log lacks %s:\n%s", want, lead.tail(30))
		}
	}
	next := c.leader(30 * time.Second)
	t.Logf("the drain took %s", time.Since(drainAt).Round(time.Millisecond))
	c.waitFinished(n, 90*time.Second)

	terms := 0
	for _, a := range c.agents {
		terms += a.count(`msg="leading the cluster"`)
		if a == lead {
			continue
		}
		if d := a.count("heartbeat timeout reached, starting election") - timeouts[a.name]; d > 0 {
			t.Errorf("agent %s started %d elections on a timeout after the drain: leadership was not handed over", a.name, d)
		}
	}
	// Only the drained agent leaves: a leader that finds a live agent
	// missing from its gossip view removes it from Raft and requeues its
	// work, and that agent then idles to the end (seen once in seven runs).
	for _, a := range c.agents {
		for _, other := range c.agents {
			if other != lead && a.count(`msg="removed a dead raft server" node=`+a.name+` member=`+other.name+` `) > 0 {
				t.Errorf("%s removed the live agent %s from Raft", a.name, other.name)
			}
		}
	}
	if terms != 2 {
		t.Errorf("%d terms of leadership in all, want 2 (the first leader, then %s)", terms, next.name)
	}
	res := c.results(ids)
	for _, id := range ids {
		if r := res[id]; r.State != "done" {
			t.Errorf("task %s ended %s after %d attempts: %s", id, r.State, r.Attempts, r.Error)
		}
	}
	atts := c.attempts()
	checkRunsAtMost(t, atts, 2)
	checkNoSharedCores(t, atts)
	stopped := 0
	for _, a := range atts {
		if a.Node == lead.name && strings.HasPrefix(a.Outcome, "failed") {
			stopped++
		}
	}
	t.Logf("%s led next; %d attempts stopped by the drain were requeued", next.name, stopped)
}
