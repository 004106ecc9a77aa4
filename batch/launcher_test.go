package batch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLauncherRidesOutShortListings: squeue stops listing the pilots (a
// short answer, or they were purged). The launcher keeps counting them
// until the Tracker has missed them DefaultConfirmations times in a row,
// and only then replaces them.
func TestLauncherRidesOutShortListings(t *testing.T) {
	counter := filepath.Join(t.TempDir(), "n")
	s := fakeTools(t, map[string]string{
		"sbatch": `n=$(cat ` + counter + ` 2>/dev/null || echo 0); n=$((n+1)); echo $n > ` + counter + `; echo $n`,
		"squeue": `exit 0`, // lists nothing, every time
	})
	l := &Launcher{Sched: s, Request: SubmitRequest{Script: "pilot.sh", Name: "p"}, Policy: LaunchPolicy{Keep: 2, Overlap: time.Minute}}
	want := []int{2, 0, 0, 2}
	for i, w := range want {
		plan, ids, err := l.Round(context.Background(), t0, Work{Tasks: 1})
		if err != nil || len(ids) != w {
			t.Fatalf("round %d: submitted %v (%s), %v; want %d", i+1, ids, plan.Why, err, w)
		}
	}
}

// TestLauncherSubmitsThePlansNodes: the tail of a campaign, a few long
// tasks on pilots of 10 nodes: the launcher asks sbatch for one node.
func TestLauncherSubmitsThePlansNodes(t *testing.T) {
	args := filepath.Join(t.TempDir(), "args")
	s := fakeTools(t, map[string]string{
		"sbatch": `echo "$@" > ` + args + `; echo 1`,
		"squeue": `exit 0`,
	})
	l := &Launcher{Sched: s, Request: SubmitRequest{Script: "pilot.sh", Name: "p", Nodes: 10},
		Policy: LaunchPolicy{Keep: 4, PilotCores: 100, PilotCoreS: 100 * 86400, Nodes: 10}}
	plan, ids, err := l.Round(context.Background(), t0, Work{Tasks: 5, CoreS: 5 * 2 * 7200, LongestS: 7200})
	if err != nil || len(ids) != 1 || plan.Nodes != 1 {
		t.Fatalf("submitted %v of %d node(s) (%s), %v; want one pilot of 1 node", ids, plan.Nodes, plan.Why, err)
	}
	b, err := os.ReadFile(args)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "--nodes=1 ") && !strings.Contains(string(b), "--nodes 1 ") {
		t.Errorf("sbatch got %q, want --nodes 1", b)
	}
	if l.Request.Nodes != 10 {
		t.Errorf("the launcher's request now asks for %d nodes: the plan's count must hold for one round only", l.Request.Nodes)
	}
}
