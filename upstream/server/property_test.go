package server

import (
	"fmt"
	"os"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// modelTask is what the model knows of one task.
type modelTask struct {
	final   bool
	failed  bool // final and failed: Retry may reopen it
	flushed bool
	cluster string    // holder of a lease, "" if none
	expiry  time.Time // of that lease
}

// TestQueueRulesHoldUnderRandomOperations drives a store with random
// submits, leases by three clusters, renewals, completions, releases,
// clock jumps, reaps, flushes and retries of failed tasks, and checks after every step that the
// file agrees with its counters and with a model: no task is held by two
// clusters at once, a task's first result is the only one accepted,
// flushed tasks take no results, and every task is in exactly one state.
func TestQueueRulesHoldUnderRandomOperations(t *testing.T) {
	root := t.TempDir()
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp(root, "q")
		if err != nil {
			rt.Fatal(err)
		}
		clk := newClock()
		s, err := OpenStore(dir, clk.Now)
		if err != nil {
			rt.Fatal(err)
		}
		defer s.Close()
		s.db.NoSync = true // durability is the kill -9 test's business; this one checks rules
		model := map[string]*modelTask{}
		var ids []string
		clusters := []string{"a", "b", "c"}
		live := func(m *modelTask) bool { return m.cluster != "" && clk.Now().Before(m.expiry) }
		reapModel := func() {
			for _, m := range model {
				if m.cluster != "" && !live(m) {
					m.cluster = ""
				}
			}
		}
		someIDs := func(rt *rapid.T) []string {
			if len(ids) == 0 {
				return nil
			}
			return rapid.SliceOfN(rapid.SampledFrom(ids), 0, 5).Draw(rt, "ids")
		}
		rt.Repeat(map[string]func(*rapid.T){
			"submit": func(rt *rapid.T) {
				n := rapid.IntRange(1, 5).Draw(rt, "n")
				var in []task.Spec
				for i := 0; i < n; i++ {
					id := fmt.Sprintf("t%d", rapid.IntRange(0, 30).Draw(rt, "id"))
					in = append(in, task.Spec{ID: id, Cmd: []string{"x"}})
				}
				rep, err := s.Submit(bg, in)
				if err != nil || rep.Accepted != n {
					rt.Fatalf("submit %v: %+v %v", in, rep, err)
				}
				for _, sp := range in {
					if m, ok := model[sp.ID]; !ok || m.flushed {
						if !ok {
							ids = append(ids, sp.ID)
						}
						model[sp.ID] = &modelTask{}
					}
				}
			},
			"lease": func(rt *rapid.T) {
				c := rapid.SampledFrom(clusters).Draw(rt, "cluster")
				ttl := time.Duration(rapid.IntRange(1, 10).Draw(rt, "ttl")) * time.Second
				ls, err := s.Lease(bg, upstream.LeaseRequest{Cluster: c, MaxTasks: rapid.IntRange(1, 6).Draw(rt, "max"), TTL: ttl})
				if err != nil {
					rt.Fatal(err)
				}
				reapModel() // a lease returns expired leases first
				for _, l := range ls {
					m := model[l.Spec.ID]
					if m == nil || m.final || m.flushed || live(m) {
						rt.Fatalf("%s leased to %s but the model has it %+v", l.Spec.ID, c, m)
					}
					m.cluster, m.expiry = c, clk.Now().Add(ttl)
				}
			},
			"renew": func(rt *rapid.T) {
				c := rapid.SampledFrom(clusters).Draw(rt, "cluster")
				want := someIDs(rt)
				lost, err := s.Renew(bg, c, want, 5*time.Second)
				if err != nil {
					rt.Fatal(err)
				}
				isLost := map[string]bool{}
				for _, id := range lost {
					isLost[id] = true
				}
				for _, id := range want {
					m := model[id]
					// A lease expired but not yet returned is still held.
					if held := m.cluster == c && !m.final && !m.flushed; held == isLost[id] {
						rt.Fatalf("renew %s by %s: lost=%v, model %+v", id, c, isLost[id], m)
					}
					if !isLost[id] {
						m.expiry = clk.Now().Add(5 * time.Second)
					}
				}
			},
			"complete": func(rt *rapid.T) {
				c := rapid.SampledFrom(clusters).Draw(rt, "cluster")
				want := someIDs(rt)
				var res []task.Result
				for _, id := range want {
					res = append(res, task.Result{ID: id, State: rapid.SampledFrom([]string{task.StateDone, task.StateFailed}).Draw(rt, "state")})
				}
				firstState := map[string]string{}
				for _, r := range res {
					if _, ok := firstState[r.ID]; !ok {
						firstState[r.ID] = r.State
					}
				}
				rep, err := s.Complete(bg, c, res)
				if err != nil {
					rt.Fatal(err)
				}
				accepted := 0
				for _, id := range want {
					m := model[id]
					if !m.final && !m.flushed {
						accepted++
						m.final, m.failed, m.cluster = true, firstState[id] == task.StateFailed, ""
					}
				}
				if rep.Accepted != accepted {
					rt.Fatalf("complete %v: accepted %d, model %d", want, rep.Accepted, accepted)
				}
			},
			"release": func(rt *rapid.T) {
				c := rapid.SampledFrom(clusters).Draw(rt, "cluster")
				want := someIDs(rt)
				if err := s.Release(bg, c, want); err != nil {
					rt.Fatal(err)
				}
				for _, id := range want {
					if m := model[id]; m.cluster == c {
						m.cluster = ""
					}
				}
			},
			"retry": func(rt *rapid.T) {
				want := someIDs(rt)
				n, err := s.Retry(bg, want)
				if err != nil {
					rt.Fatal(err)
				}
				named := map[string]bool{}
				for _, id := range want {
					named[id] = true
				}
				reopened := 0
				for id, m := range model {
					if m.failed && (len(want) == 0 || named[id]) {
						m.final, m.failed, m.flushed = false, false, false
						reopened++
					}
				}
				if n != reopened {
					rt.Fatalf("retry %v: %d back to pending, model %d", want, n, reopened)
				}
			},
			"advance": func(rt *rapid.T) {
				clk.Advance(time.Duration(rapid.IntRange(0, 12).Draw(rt, "s")) * time.Second)
			},
			"reap": func(rt *rapid.T) {
				if err := s.Reap(bg); err != nil {
					rt.Fatal(err)
				}
				reapModel()
			},
			"flush": func(rt *rapid.T) {
				if rapid.IntRange(0, 4).Draw(rt, "rarely") != 0 {
					return
				}
				if _, err := s.Flush(bg); err != nil {
					rt.Fatal(err)
				}
				for _, m := range model {
					if !m.final {
						m.flushed, m.cluster = true, ""
					}
				}
			},
			"": func(rt *rapid.T) {
				checkInvariants(rt, s)
				st, err := s.Status(bg)
				if err != nil {
					rt.Fatal(err)
				}
				var open, final int
				for _, m := range model {
					switch {
					case m.final:
						final++
					case !m.flushed:
						open++
					}
				}
				if st.Pending+st.Leased != open || st.Done+st.Failed != final {
					rt.Fatalf("status %+v; model %d open, %d final", st, open, final)
				}
			},
		})
	})
}
