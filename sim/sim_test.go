package sim

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// small is a 2,000-task run that checks the ledger's invariants after every
// entry: 8 nodes of 56 cores in two slots of 6-hour pilots that lose nodes.
func small(policy, workload string) Config {
	cfg := DefaultConfig()
	cfg.Policy, cfg.Workload = policy, workload
	cfg.Tasks, cfg.Nodes, cfg.Pilots = 2000, 8, 2
	cfg.Walltime, cfg.NodeLoss = 6*time.Hour, 0.3
	cfg.CheckEvery = 1
	return cfg
}

func TestRun2000(t *testing.T) {
	for _, wl := range []string{WorkloadNMR, WorkloadMixed} {
		var dense, fifo Result
		for _, pol := range []string{PolicyDense, PolicyFIFO} {
			res, err := Run(context.Background(), small(pol, wl))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %s: utilization %.4f, makespan/LB %.4f, wasted %.4f, walltime kills %d, node loss kills %d, %d entries all checked",
				wl, pol, res.Utilization, res.MakespanOverLB, res.WastedFrac, res.WalltimeKills, res.NodeLossKills, res.LedgerEntries)
			if res.Done+res.Failed != res.Tasks || res.Done == 0 {
				t.Errorf("%s %s: %d done + %d failed of %d tasks", wl, pol, res.Done, res.Failed, res.Tasks)
			}
			if uint64(res.InvariantChecks) < res.LedgerEntries {
				t.Errorf("%s %s: %d invariant checks for %d ledger entries", wl, pol, res.InvariantChecks, res.LedgerEntries)
			}
			if !(res.Utilization > 0 && res.Utilization <= 1) || res.IdleCoreS < -1e-6*res.AllocatedCoreS {
				t.Errorf("%s %s: utilization %g, idle %g core-s: the accounting is off", wl, pol, res.Utilization, res.IdleCoreS)
			}
			if sum := res.IdleByCause.sum(); math.Abs(sum-res.IdleCoreS) > 1e-6*res.AllocatedCoreS {
				t.Errorf("%s %s: idle by cause sums to %g core-s, idle is %g: %+v", wl, pol, sum, res.IdleCoreS, res.IdleByCause)
			}
			if res.MakespanOverLB < 1 {
				t.Errorf("%s %s: makespan %gs beats the lower bound %gs", wl, pol, res.MakespanS, res.LowerBoundS)
			}
			if res.Lost == 0 || res.NodeLossKills == 0 {
				t.Errorf("%s %s: nodes were lost (%d) but no attempt was killed: the run does not exercise node loss", wl, pol, res.Lost)
			}
			if pol == PolicyDense {
				dense = res
			} else {
				fifo = res
			}
		}
		// The walltime rule: the dense policy loses no attempt to a
		// pilot's end when estimates are good (nmr: off by at most 30%,
		// Slack 0.5); the walltime-blind baseline does.
		if wl == WorkloadNMR && (dense.WalltimeKills != 0 || fifo.WalltimeKills == 0) {
			t.Errorf("nmr walltime kills: dense %d (want 0), fifo %d (want some)", dense.WalltimeKills, fifo.WalltimeKills)
		}
		if wl == WorkloadNMR && dense.WastedCoreS >= fifo.WastedCoreS {
			t.Errorf("nmr: dense wasted %g core-s, fifo %g", dense.WastedCoreS, fifo.WastedCoreS)
		}
	}
}

// Every entry is checked: the whole ledger after every CheckEvery-th entry
// and at the end, what the entry touched after every other one.
func TestEveryEntryChecked(t *testing.T) {
	cfg := small(PolicyDense, WorkloadMixed)
	cfg.Tasks, cfg.CheckEvery = 500, 7
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := uint64(res.InvariantChecks + res.TouchedChecks); got != res.LedgerEntries+1 || uint64(res.InvariantChecks) < res.LedgerEntries/7 {
		t.Fatalf("%d entries: %d whole and %d touched checks, want one per entry, every 7th whole, and a whole one at the end", res.LedgerEntries, res.InvariantChecks, res.TouchedChecks)
	}
}

// A seed replays exactly: two runs of one configuration give the same
// figures, and another seed gives others.
func TestReplay(t *testing.T) {
	cfg := small(PolicyDense, WorkloadMixed)
	cfg.Tasks, cfg.Hourly = 500, true
	a, errA := Run(context.Background(), cfg)
	b, errB := Run(context.Background(), cfg)
	cfg.Seed = 2
	c, errC := Run(context.Background(), cfg)
	if err := errors.Join(errA, errB, errC); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Result{&a, &b, &c} {
		r.SimWallS, r.PlaceMeanMS = 0, 0
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("one seed, two results:\n%+v\n%+v", a, b)
	}
	if reflect.DeepEqual(a, c) {
		t.Fatalf("seeds 1 and 2 gave the same result %+v", a)
	}
}

func TestWorkloadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.jsonl", `{"id":"a","fn":"f","cores":4,"est_s":600,"true_s":650}

{"id":"b","cmd":["x"],"true_s":30}
{"id":"huge","fn":"f","cores":64,"true_s":30}
`)
	cfg := DefaultConfig()
	cfg.WorkloadFile, cfg.Nodes, cfg.Pilots, cfg.CheckEvery = good, 2, 1, 1
	for _, pol := range []string{PolicyDense, PolicyFIFO} {
		cfg.Policy = pol
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Tasks != 3 || res.Done != 2 || res.Failed != 1 {
			t.Fatalf("%s: %+v, want 2 done and the 64-core task failed as unschedulable", pol, res)
		}
		// Tasks leased when the pilot arrives start then, not at the
		// next event (the pilot's end, a day later).
		if limit := (cfg.QueueWait + 650*time.Second).Seconds(); res.MakespanS > limit {
			t.Fatalf("%s: makespan %gs, want at most %gs", pol, res.MakespanS, limit)
		}
	}
	for _, c := range []struct{ text, want string }{
		{`{"id":"a","fn":"f","true_s":1}` + "\n" + `{"id":"b","fn":"f"}`, "line 2: field \"true_s\""},
		{`{"id":"a","fn":"f","true_s":1,"color":"red"}`, `line 1: json: unknown field "color"`},
		{`{"id":"../x","fn":"f","true_s":1}`, "line 1: invalid task"},
		{"\n\n", "holds no task"},
	} {
		cfg.WorkloadFile = write("bad.jsonl", c.text)
		if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("workload %q: error %v, want it to contain %q", c.text, err, c.want)
		}
	}
}

// A run that cannot finish (every pilot is too short for every task, and
// the baseline starts them anyway, to be killed at each walltime) ends
// with an error naming the seed.
func TestUnfinishedRunNamesTheSeed(t *testing.T) {
	cfg := small(PolicyFIFO, WorkloadNMR)
	cfg.Tasks, cfg.Walltime, cfg.NodeLoss, cfg.Seed = 20, 5*time.Minute, 0, 42
	_, err := Run(context.Background(), cfg)
	if !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), "sim seed 42") || !strings.Contains(err.Error(), "unfinished") {
		t.Fatalf("error %v, want one naming seed 42 and the unfinished tasks", err)
	}
}
