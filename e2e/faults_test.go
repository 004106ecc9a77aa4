package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// sleepTasks returns n queue lines of tasks that sleep for secs; their ids
// are t0000.. and are returned too. Each has its id as input: tasks of
// one content share one scratch cache entry (one computes, the others
// reuse its result), and these tests want every task to run.
func sleepTasks(n int, secs string) (lines, ids []string) {
	for i := range n {
		id := fmt.Sprintf("t%04d", i)
		ids = append(ids, id)
		lines = append(lines, fmt.Sprintf(`{"id":%q,"cmd":["sleep",%q],"input":%q,"timeout_s":30}`, id, secs, id))
	}
	return lines, ids
}

// TestKillLeaderThenWorker kills -9 the leader's process mid-run, then a
// worker's. Four agents, three of them Raft voters: after the leader dies
// the cluster promotes the worker to keep three voters, so it can lose one
// more node. (With three agents the second kill would leave one voter of
// two, and no cluster can commit then.) Every task must end with exactly
// one result, none may run more than twice, and no core may be given to
// two tasks at once.
func TestKillLeaderThenWorker(t *testing.T) {
	skipShort(t)
	const n = 500
	lines, ids := sleepTasks(n, "0.15")
	c := newCluster(t, lines)
	c.startN(4, agentOpts{cores: 2})

	lead := c.leader(30 * time.Second)
	// Raft survives one loss at a time: kill only once three vote.
	c.eventually(30*time.Second, "three voters", func() bool { return lead.count(`msg="promoted to raft voter"`) >= 2 })
	c.waitFinished(n/5, 60*time.Second)
	t.Logf("killing the leader %s at %d results", lead.name, c.finished())
	lead.kill(t)

	next := c.leader(30 * time.Second)
	if next == lead {
		t.Fatalf("the killed agent %s still leads", lead.name)
	}
	// Raft survives one loss at a time: the second kill waits until the
	// new leader has replaced the dead voter with the worker.
	c.eventually(30*time.Second, "the dead voter replaced", func() bool {
		return next.count(`msg="promoted to raft voter"`) > 0 && next.count(`msg="removed a dead raft server" node=`+next.name+` member=`+lead.name) > 0
	})
	c.waitFinished(n/2, 60*time.Second)
	var worker *agent
	for _, a := range c.agents {
		if a.alive() && a != next {
			worker = a
			break
		}
	}
	t.Logf("new leader %s; killing %s at %d results", next.name, worker.name, c.finished())
	worker.kill(t)

	c.waitFinished(n, 90*time.Second)
	res := c.results(ids)
	// A task that was on both killed nodes is failed by the poison-task
	// rule (crash limit 2), with its reason; every other one is done.
	poisoned := 0
	for _, id := range ids {
		switch r := res[id]; {
		case r.State == "failed" && strings.HasPrefix(r.Error, "crashed-nodes:") && r.Attempts == 2:
			poisoned++
		case r.State != "done":
			t.Errorf("task %s ended %s after %d attempts: %s", id, r.State, r.Attempts, r.Error)
		}
	}
	// Only a task held by both killed nodes can be poisoned: at most what
	// one node holds, its 2 cores and its backlog of twice that.
	if poisoned > 6 {
		t.Errorf("%d tasks failed as poison; only those on both killed nodes (at most 6) may", poisoned)
	}
	atts := c.attempts()
	checkRunsAtMost(t, atts, 2)
	checkNoSharedCores(t, atts)
	requeued, most := 0, 0
	for _, r := range res {
		if r.Attempts > 1 {
			requeued++
		}
		most = max(most, r.Attempts)
	}
	t.Logf("%d results; %d attempts logged; %d tasks needed another attempt (at most %d attempts), %d failed as poison", len(res), len(atts), requeued, most, poisoned)
}
