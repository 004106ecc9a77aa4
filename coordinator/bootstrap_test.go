package coordinator_test

import (
	"context"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/coordinator/coordtest"
)

// TestLoneNewVoterElectsItselfAtOnce: a node that bootstraps a new
// cluster of itself alone leads without waiting a heartbeat timeout, and
// keeps its configured timeouts.
func TestLoneNewVoterElectsItselfAtOnce(t *testing.T) {
	slow := coordinator.Timeouts{Heartbeat: 20 * time.Second, Election: 20 * time.Second, LeaderLease: 100 * time.Millisecond, Commit: 5 * time.Millisecond}
	c := coordtest.New(t, 1, func(_ int, cfg *coordinator.Config) { cfg.Timeouts = slow })
	// With a 20 s heartbeat timeout the first election would come after
	// 20-40 s; the test's deadline is well below that.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Leader(ctx); err != nil {
		t.Fatalf("no leader within 10 s (a heartbeat timeout is 20 s): %v", err)
	}
	got := c.Node(0).Raft().ReloadableConfig()
	if got.HeartbeatTimeout != slow.Heartbeat || got.ElectionTimeout != slow.Election {
		t.Fatalf("timeouts after the first election: heartbeat %v, election %v; configured %v, %v",
			got.HeartbeatTimeout, got.ElectionTimeout, slow.Heartbeat, slow.Election)
	}
}
