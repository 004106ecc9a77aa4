package chaos

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestScenarios runs the CI scenarios once each with a fixed seed
// (CHAOS_SEED overrides it; CHAOS_ALL=1 runs every scenario; -run
// TestScenarios/NAME picks one).
func TestScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("runs clusters of agent processes; skipped with -short")
	}
	seed := uint64(1)
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q: %v", s, err)
		}
		seed = v
	}
	all := os.Getenv("CHAOS_ALL") != ""
	for _, s := range Scenarios() {
		if !s.CI && !all {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			r := RunOne(ctx, s, pilotBin, t.TempDir(), seed, 1, t.Logf)
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			rep := r.Outcome.Report
			t.Logf("seed %d: %d tasks, %d done, %d failed, %d flushed, max runs %d, %d elections, recover %s, %s (%s)",
				seed, rep.Tasks, rep.Done, rep.Failed, rep.Flushed, rep.MaxRuns, r.Outcome.Elections, r.Outcome.Recover.Round(time.Millisecond), r.Outcome.Note, r.Wall.Round(time.Millisecond))
			for _, v := range rep.Violations {
				t.Error(v)
			}
		})
	}
}
