package sim

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// TestReleaseIdlePilot: a 5-hour task and a 1-minute one on two pilots of
// one node each: both go to the first pilot's node (first fit), and the
// other pilot, idle with upstream drained and nothing queued, is released
// at the next round (when the short task ends, a minute in) instead of
// holding its node for its 10-hour walltime. The fifo baseline keeps it.
func TestReleaseIdlePilot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for _, j := range []fileJob{
		{Spec: task.Spec{ID: "long", Fn: "f", Cores: 1, EstS: 5 * 3600}, TrueS: 5 * 3600},
		{Spec: task.Spec{ID: "short", Fn: "g", Cores: 1, EstS: 60}, TrueS: 60},
	} {
		if err := enc.Encode(j); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	cfg := DefaultConfig()
	cfg.WorkloadFile, cfg.Nodes, cfg.Pilots, cfg.Walltime = path, 2, 2, 10*time.Hour
	cfg.QueueWait, cfg.NodeLoss, cfg.CheckEvery = 0, 0, 1
	oneNode := float64(cfg.Cores) * (5 * time.Hour).Seconds()
	for _, c := range []struct {
		policy   string
		released int
		alloc    float64
	}{
		{PolicyDense, 1, oneNode + float64(cfg.Cores)*60},
		{PolicyFIFO, 0, 2 * oneNode},
	} {
		cfg.Policy = c.policy
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Done != 2 || res.Released != c.released || res.AllocatedCoreS != c.alloc {
			t.Errorf("%s: %d done, %d pilots released, %.0f core-s allocated; want 2 done, %d released, %.0f core-s",
				c.policy, res.Done, res.Released, res.AllocatedCoreS, c.released, c.alloc)
		}
	}
}
