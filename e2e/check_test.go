package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// results reads the campaign's results file and checks promise 1 for the
// given ids: every one has exactly one result line, and no other id has any.
func (c *cluster) results(ids []string) map[string]task.Result {
	c.t.Helper()
	out := map[string]task.Result{}
	for i, line := range readLines(c.t, c.resultsPath()) {
		var r task.Result
		if err := json.Unmarshal(line, &r); err != nil {
			c.t.Fatalf("%s:%d: %v", c.resultsPath(), i+1, err)
		}
		if _, dup := out[r.ID]; dup {
			c.t.Errorf("task %s has more than one result line (the second at %s:%d)", r.ID, c.resultsPath(), i+1)
		}
		out[r.ID] = r
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
		if _, ok := out[id]; !ok {
			c.t.Errorf("task %s has no result", id)
		}
	}
	for id := range out {
		if !want[id] {
			c.t.Errorf("a result for task %s, which was never submitted", id)
		}
	}
	return out
}

// attempt is one line of an agent's attempt log.
type attempt struct {
	Task    string    `json:"task"`
	Attempt int       `json:"attempt"`
	Node    string    `json:"node"`
	Cores   []int     `json:"cores"`
	CPUs    []int     `json:"cpus"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Cache   string    `json:"cache"`
	Outcome string    `json:"outcome"`
}

// attempts reads the attempt logs of every agent ever started.
func (c *cluster) attempts() []attempt {
	c.t.Helper()
	var out []attempt
	for _, a := range c.agents {
		path := filepath.Join(a.data, "attempts.jsonl")
		for i, line := range readLines(c.t, path) {
			var r attempt
			if err := json.Unmarshal(line, &r); err != nil {
				c.t.Fatalf("%s:%d: %v", path, i+1, err)
			}
			out = append(out, r)
		}
	}
	return out
}

// checkRunsAtMost fails when a task ran more than max times according to
// the attempt logs. An attempt that reused a sealed result (a cache hit)
// ran nothing and does not count.
func checkRunsAtMost(t *testing.T, atts []attempt, max int) {
	t.Helper()
	runs := map[string][]string{}
	for _, a := range atts {
		if a.Cache == "hit" {
			continue
		}
		runs[a.Task] = append(runs[a.Task], fmt.Sprintf("attempt %d on %s (%s, cache %q)", a.Attempt, a.Node, a.Outcome, a.Cache))
	}
	for id, r := range runs {
		if len(r) > max {
			t.Errorf("task %s ran %d times, at most %d allowed: %s", id, len(r), max, strings.Join(r, "; "))
		}
	}
}

// checkNoSharedCores fails when two attempts on one node held a core at
// the same time (promise 3), by core id and by OS CPU.
func checkNoSharedCores(t *testing.T, atts []attempt) {
	t.Helper()
	byNode := map[string][]attempt{}
	for _, a := range atts {
		if len(a.Cores) == 0 {
			// A cache hit, or an attempt stopped before it got its cores,
			// ran nothing.
			if a.Cache == "miss" {
				t.Errorf("task %s attempt %d on %s ran, and the attempt log names no cores", a.Task, a.Attempt, a.Node)
			}
			continue
		}
		byNode[a.Node] = append(byNode[a.Node], a)
	}
	for node, list := range byNode {
		sort.Slice(list, func(i, j int) bool { return list[i].Start.Before(list[j].Start) })
		// A sweep over start times: each attempt is checked against those
		// still running when it started.
		var open []attempt
		for _, a := range list {
			open = slices.DeleteFunc(open, func(o attempt) bool { return !o.End.After(a.Start) })
			for _, o := range open {
				if shared(o.Cores, a.Cores) || shared(o.CPUs, a.CPUs) {
					t.Errorf("node %s: task %s attempt %d (cores %v cpus %v, %s..%s) and task %s attempt %d (cores %v cpus %v, %s..%s) overlap",
						node, o.Task, o.Attempt, o.Cores, o.CPUs, o.Start.Format(time.StampMicro), o.End.Format(time.StampMicro),
						a.Task, a.Attempt, a.Cores, a.CPUs, a.Start.Format(time.StampMicro), a.End.Format(time.StampMicro))
				}
			}
			open = append(open, a)
		}
	}
}

func shared(a, b []int) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
