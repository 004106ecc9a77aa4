package slurm

import (
	"fmt"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/batch/slurmtest"
	"github.com/pilot-hpc/pilot/task"
)

// TestNodeCutOff cuts the link of one node of a running 3-node pilot (ip
// link set ... down). The node's agent keeps running, cut off (Slurm's
// split brain), so the tasks it held must be given to the other nodes,
// finish there, and have one result each; the node's own late finishes
// never become second results.
func TestNodeCutOff(t *testing.T) {
	skipShort(t)
	c := slurmtest.Need(t, 6) // one cluster size for the package: a resize restarts the cluster
	start := time.Now()
	var specs []task.Spec
	for i := range 48 {
		specs = append(specs, sleepTask(fmt.Sprintf("c%03d", i), 5, 5, 2))
	}
	cp := newCampaign(t, c, siteParams{nodes: 3, keep: 1, cores: 2,
		walltime: 5 * time.Minute, drain: time.Minute, overlap: time.Minute}, specs)
	l := cp.startLaunch()

	const victim = 3
	node := fmt.Sprintf("node%d", victim)
	waitFor(t, node+" to finish a task", 2*time.Minute, func() bool {
		if l.exited() {
			t.Fatalf("pilot launch ended early (%v):\n%s", l.err, l.output())
		}
		for _, r := range cp.results() {
			if r.Node == node {
				return true
			}
		}
		return false
	})
	cutAt := time.Now()
	if err := c.Cut(victim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Restore(victim); err != nil {
			t.Errorf("restore %s: %v", node, err)
		}
	})
	t.Logf("cut %s off at %s with %d results", node, cutAt.Format(time.TimeOnly), len(cp.results()))

	waitFor(t, "the campaign to finish without "+node, 4*time.Minute, l.exited)
	if l.err != nil {
		t.Fatalf("pilot launch: %v:\n%s", l.err, l.output())
	}
	t.Logf("campaign done %s after the start, %s after the cut", time.Since(start).Round(time.Second), time.Since(cutAt).Round(time.Second))

	res := cp.results()
	cp.checkAllDone(res)
	// The tasks the cut-off node was running: its agent finished them
	// (its attempt log is on the shared filesystem) but could not report.
	moved := 0
	for _, a := range cp.attempts() {
		if a.Node != node || !a.Start.Before(cutAt) || a.End.Before(cutAt) {
			continue
		}
		r := res[a.Task]
		if r.Node == node && r.Attempts == a.Attempt {
			t.Logf("%s attempt %d on %s ended %s, after the cut, and its result counted (reported before the link went down)", a.Task, a.Attempt, node, a.End.Format(time.TimeOnly))
			continue
		}
		moved++
		if r.Node == node {
			t.Errorf("task %s: result from %s attempt %d, after the cut", a.Task, node, r.Attempts)
		}
	}
	if moved == 0 {
		t.Errorf("no task that %s was running at the cut finished elsewhere", node)
	}
	after := 0
	for _, r := range res {
		if r.Node == node {
			continue
		}
		after++
	}
	t.Logf("%d task(s) that %s held at the cut finished on other nodes; %d of %d results from node1 and node2", moved, node, after, len(res))
}
