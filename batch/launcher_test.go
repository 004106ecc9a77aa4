package batch

import (
	"context"
	"path/filepath"
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
