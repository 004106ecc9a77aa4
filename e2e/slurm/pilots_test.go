package slurm

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/batch"
	"github.com/pilot-hpc/pilot/batch/slurmtest"
	"github.com/pilot-hpc/pilot/task"
)

// TestCampaignAcrossPilots is one campaign that outlives its pilots, run
// by `pilot launch` on 3-node, 2-minute pilots:
//
//   - the first pilot starts a cluster and works the 300-task queue;
//   - a second pilot, submitted by launch while the first still runs (the
//     overlap), joins the same cluster and runs tasks;
//   - the first pilot gets Slurm's real walltime warning and drains: no
//     task it started could not finish (attempts with an estimate started
//     at least est before its end), it leaves before the walltime kill, and
//     the attempts it stopped (tasks without an estimate) are requeued
//     without spending a retry (max_attempts is 1, yet every task ends done);
//   - then launch is stopped and every pilot drains, with work left; a new
//     launch starts a new cluster that resumes the campaign and reruns
//     nothing that had finished;
//   - in the end every task has exactly one result line.
func TestCampaignAcrossPilots(t *testing.T) {
	skipShort(t)
	c := slurmtest.Need(t, 6)
	start := time.Now()
	// 300 tasks, about 1900 core-seconds: more than the first pilots can do
	// before the first one's walltime (about 1300 measured). Every tenth
	// task has no estimate (a drain stops it); every fifth is long.
	var specs []task.Spec
	for i := range 300 {
		id := fmt.Sprintf("t%03d", i)
		switch {
		case i%10 == 0:
			specs = append(specs, sleepTask(id, 5, 0, 1))
		case i%5 == 0 || i%10 == 3:
			specs = append(specs, sleepTask(id, 15, 15, 1))
		default:
			specs = append(specs, sleepTask(id, float64(2+i%5), float64(2+i%5), 1))
		}
	}
	est := map[string]float64{}
	for _, s := range specs {
		est[s.ID] = s.EstS
	}
	cp := newCampaign(t, c, siteParams{nodes: 3, keep: 1, cores: 4,
		walltime: 2 * time.Minute, drain: 45 * time.Second, overlap: 90 * time.Second}, specs)

	// Phase 1: launch until the first pilot has ended at its walltime and
	// the second has worked.
	l := cp.startLaunch()
	var first, second batch.JobStatus
	waitFor(t, "the first pilot to run", time.Minute, func() bool {
		if l.exited() {
			t.Fatalf("pilot launch ended early (%v):\n%s", l.err, l.output())
		}
		p := cp.pilots()
		if len(p) > 0 && !p[0].Start.IsZero() && p[0].State == batch.Running {
			first = p[0]
			return true
		}
		return false
	})
	firstEnd := first.Start.Add(first.Limit)
	t.Logf("first pilot %s runs on %v from %s, walltime end %s", first.ID, first.Nodes, first.Start.Format(time.TimeOnly), firstEnd.Format(time.TimeOnly))
	waitFor(t, "the first pilot to reach its walltime and end, and a second to work", 4*time.Minute, func() bool {
		if l.exited() {
			t.Fatalf("pilot launch ended early (%v):\n%s", l.err, l.output())
		}
		p := cp.pilots()
		if len(p) < 2 || !p[0].State.Terminal() {
			return false
		}
		first, second = p[0], p[1]
		for _, r := range cp.results() {
			if r.Pilot == second.ID {
				return true
			}
		}
		return false
	})
	t.Logf("first pilot ended %s at %s; second pilot %s; %d results after %s",
		first.State, time.Now().Format(time.TimeOnly), second.ID, len(cp.results()), time.Since(start).Round(time.Second))
	l.stop(t)
	if strings.Contains(l.output(), "draining pilot") {
		t.Fatalf("launch drained pilots itself, so the walltime drain was not tested:\n%s", l.output())
	}
	cp.endPilots(2 * time.Minute)
	before := cp.results()
	if len(before) == len(specs) {
		t.Fatalf("all %d tasks finished before the pilots ended; the resume was not tested: make the tasks longer", len(specs))
	}
	resumeAt := time.Now()
	t.Logf("every pilot ended with %d of %d tasks final, %s after the start", len(before), len(specs), time.Since(start).Round(time.Second))

	// Phase 2: a new launch resumes the campaign to its end.
	l2 := cp.startLaunch()
	waitFor(t, "the resumed campaign to finish", 5*time.Minute, l2.exited)
	if l2.err != nil {
		t.Fatalf("pilot launch: %v:\n%s", l2.err, l2.output())
	}
	t.Logf("campaign done %s after the start; launch said:\n%s", time.Since(start).Round(time.Second), l2.output())

	res := cp.results()
	cp.checkAllDone(res)
	atts := cp.attempts()

	// The second pilot joined the first one's cluster and worked in it.
	if log := cp.pilotLog(second.ID); strings.Contains(log, "starting a new one") || !strings.Contains(log, "joined the campaign's cluster") {
		t.Errorf("pilot %s did not join the live cluster of pilot %s; its log:\n%s", second.ID, first.ID, log)
	}
	if !second.Start.Before(first.Start.Add(first.Limit)) || second.Start.IsZero() {
		t.Errorf("pilot %s started %s, not while pilot %s ran (until %s)", second.ID, second.Start, first.ID, firstEnd)
	}
	ran := map[string]int{}
	for _, a := range atts {
		if a.Outcome == "done" {
			ran[a.Pilot]++
		}
	}
	if ran[second.ID] == 0 || ran[first.ID] == 0 {
		t.Errorf("attempts done by pilot: %v; want some by both %s and %s", ran, first.ID, second.ID)
	}

	// The first pilot drained at its walltime warning and left in time.
	if first.State != batch.Completed {
		t.Errorf("pilot %s ended %s; want COMPLETED (drained and left before the walltime kill)", first.ID, first.State)
	}
	if log := cp.pilotLog(first.ID); !strings.Contains(log, "got SIGUSR1") || !strings.Contains(log, "draining") {
		t.Errorf("pilot %s has no walltime warning and drain in its log", first.ID)
	} else {
		var lines []string
		for _, line := range strings.Split(log, "\n") {
			if strings.HasPrefix(line, "pilot.sh:") || strings.Contains(line, "msg=draining") ||
				strings.Contains(line, "left the cluster") || strings.Contains(line, "level=WARN") {
				lines = append(lines, line)
			}
		}
		t.Logf("pilot %s (walltime end %s), its drain:\n%s", first.ID, firstEnd.Format(time.TimeOnly), strings.Join(lines, "\n"))
	}
	stopped := 0
	for _, a := range atts {
		if a.Pilot != first.ID {
			continue
		}
		if e := est[a.Task]; e > 0 && a.Start.Add(time.Duration(e*float64(time.Second))).After(firstEnd) {
			t.Errorf("pilot %s started %s (est %.0fs) at %s, too late to finish by its end %s; outcome %s",
				first.ID, a.Task, e, a.Start.Format(time.TimeOnly), firstEnd.Format(time.TimeOnly), a.Outcome)
		}
		if a.Outcome != "done" {
			stopped++
			if est[a.Task] > 0 {
				t.Errorf("pilot %s stopped %s attempt %d (%s), which had an estimate and could finish", first.ID, a.Task, a.Attempt, a.Outcome)
			}
		}
	}
	t.Logf("pilot %s: %d attempts done, %d stopped by its drain (tasks without an estimate; requeued, all done in the end)", first.ID, ran[first.ID], stopped)

	// The resumed campaign ran nothing that had finished.
	resumed := 0
	for _, a := range atts {
		if a.Start.Before(resumeAt) {
			continue
		}
		resumed++
		if _, ok := before[a.Task]; ok {
			t.Errorf("task %s, final before the resume, ran again on %s (pilot %s) at %s", a.Task, a.Node, a.Pilot, a.Start.Format(time.TimeOnly))
		}
	}
	if resumed == 0 {
		t.Errorf("no attempt started after the resume at %s", resumeAt.Format(time.TimeOnly))
	}
}
