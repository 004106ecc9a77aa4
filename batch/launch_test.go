package batch

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func TestPlanLaunch(t *testing.T) {
	policy := LaunchPolicy{Keep: 2, Overlap: 30 * time.Minute}
	run := func(id string, left time.Duration) JobStatus {
		return JobStatus{ID: id, State: Running, End: t0.Add(left)}
	}
	cases := []struct {
		name   string
		pilots []JobStatus
		work   Work
		policy LaunchPolicy
		submit int
		why    string
	}{
		{"start", nil, Work{Tasks: 100}, policy, 2, "submit 2"},
		{"no work", []JobStatus{run("1", time.Minute)}, Work{}, policy, 0, "no work remains"},
		{"steady", []JobStatus{run("1", 2*time.Hour), run("2", time.Hour)}, Work{Tasks: 5}, policy, 0, "submit 0"},
		{"one expiring", []JobStatus{run("1", 2*time.Hour), run("2", 20*time.Minute)}, Work{Tasks: 5}, policy, 1, "1 expiring"},
		{"successor already queued", []JobStatus{run("1", 2*time.Hour), run("2", 20*time.Minute), {ID: "3", State: Pending}},
			Work{Tasks: 5}, policy, 0, "submit 0"},
		{"ended ones do not count", []JobStatus{{ID: "1", State: Timeout}, {ID: "2", State: Gone}}, Work{Tasks: 5}, policy, 2, "submit 2"},
		{"no limit covers", []JobStatus{{ID: "1", State: Running}}, Work{Tasks: 5}, LaunchPolicy{Keep: 1, Overlap: time.Hour}, 0, "submit 0"},
		{"little work", nil, Work{Tasks: 3, CoreS: 1000}, LaunchPolicy{Keep: 4, PilotCoreS: 3600}, 1, "fill 1 pilot"},
		// 2.5 pilots' walltime of work, which Keep pilots end in 15 h of
		// a 24 h walltime: fewer would end it later, so all are wanted.
		{"work for keep", nil, Work{Tasks: 1000, CoreS: 2.5 * 100 * 86400, LongestS: 7200},
			LaunchPolicy{Keep: 4, PilotCores: 100, PilotCoreS: 100 * 86400}, 4, "keep 4"},
		// The tail: a few 2 h tasks, which one pilot ends as soon as four.
		{"long tail", nil, Work{Tasks: 5, CoreS: 5 * 2 * 7200, LongestS: 7200},
			LaunchPolicy{Keep: 4, PilotCores: 100, PilotCoreS: 100 * 86400}, 1, "fill 1 pilot"},
		// Upstream drained: new pilots would get nothing the live ones
		// do not work on already, and be released at once.
		{"drained", nil, Work{Tasks: 50, Drained: true}, LaunchPolicy{Keep: 4}, 1, "upstream drained: keep 1"},
		{"drained, one covering", []JobStatus{run("1", 2*time.Hour)}, Work{Tasks: 50, Drained: true}, LaunchPolicy{Keep: 4, Overlap: time.Hour}, 0, "submit 0"},
		// The tail on pilots of 10 nodes: 5 two-hour tasks of 2 cores
		// keep one node busy; of 5 cores, three.
		{"long tail, one node", nil, Work{Tasks: 5, CoreS: 5 * 2 * 7200, LongestS: 7200},
			LaunchPolicy{Keep: 4, PilotCores: 100, PilotCoreS: 100 * 86400, Nodes: 10}, 1, "fill 1 pilot(s) of 1 node(s)"},
		{"long tail, three nodes", nil, Work{Tasks: 5, CoreS: 5 * 5 * 7200, LongestS: 7200},
			LaunchPolicy{Keep: 4, PilotCores: 100, PilotCoreS: 100 * 86400, Nodes: 10}, 1, "fill 1 pilot(s) of 3 node(s)"},
		{"work for a whole pilot", nil, Work{Tasks: 50, CoreS: 50 * 20 * 7200, LongestS: 7200},
			LaunchPolicy{Keep: 4, PilotCores: 100, PilotCoreS: 100 * 86400, Nodes: 10}, 4, "keep 4; 0 covering"},
		{"queue cap", []JobStatus{{ID: "1", State: Pending}}, Work{Tasks: 5},
			LaunchPolicy{Keep: 4, MaxQueued: 2}, 1, "at most 2 queued"},
		{"stuck", []JobStatus{{ID: "7", State: Pending, Reason: "PartitionNodeLimit"}}, Work{Tasks: 5},
			LaunchPolicy{Keep: 1}, 0, "7 cannot start"},
	}
	for _, c := range cases {
		plan := PlanLaunch(t0, c.pilots, c.work, c.policy)
		if plan.Submit != c.submit || !strings.Contains(plan.Why, c.why) {
			t.Errorf("%s: submit %d (%s), want %d and %q", c.name, plan.Submit, plan.Why, c.submit, c.why)
		}
	}
}

// TestPlanLaunchNeverZeroAgents drives PlanLaunch on a fake clock with
// random walltimes, overlaps and queue waits shorter than the overlap: once
// the first pilot runs, some pilot runs at every step while work remains,
// and no more than MaxQueued pilots ever wait in the queue.
func TestPlanLaunchNeverZeroAgents(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const step = 30 * time.Second
		keep := rapid.IntRange(1, 4).Draw(t, "keep")
		walltime := time.Duration(rapid.IntRange(10, 120).Draw(t, "walltime_min")) * time.Minute
		overlap := time.Duration(rapid.IntRange(2, int(walltime/time.Minute)/2).Draw(t, "overlap_min")) * time.Minute
		policy := LaunchPolicy{Keep: keep, Overlap: overlap}
		type pilot struct{ submit, start time.Time }
		var pilots []pilot
		started := false
		for now := t0; now.Before(t0.Add(6 * walltime)); now = now.Add(step) {
			var view []JobStatus
			running, queued := 0, 0
			for i, p := range pilots {
				j := JobStatus{ID: fmt.Sprint(i), State: Pending}
				switch end := p.start.Add(walltime); {
				case now.Before(p.start):
					queued++
				case now.Before(end):
					j.State, j.Start, j.End = Running, p.start, end
					running++
				default:
					j.State = Timeout
				}
				view = append(view, j)
			}
			if started && running == 0 {
				t.Fatalf("no pilot runs at %s (keep %d, walltime %s, overlap %s)", now.Sub(t0), keep, walltime, overlap)
			}
			started = started || running > 0
			if queued > keep {
				t.Fatalf("%d pilots queued, over keep %d", queued, keep)
			}
			plan := PlanLaunch(now, view, Work{Tasks: 1000}, policy)
			for range plan.Submit {
				wait := time.Duration(rapid.Int64Range(0, int64(overlap-2*step)).Draw(t, "wait"))
				pilots = append(pilots, pilot{submit: now, start: now.Add(wait)})
			}
		}
	})
}
