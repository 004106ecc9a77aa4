package coordinator_test

import (
	"context"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/coordinator/coordtest"
)

// TestLoneVoterElectsItselfThenKeepsItsTimeouts: a lone new voter waits
// the leader lease, not its heartbeat timeout, for its first election, and
// leads with its configured timeouts afterwards.
func TestLoneVoterElectsItselfThenKeepsItsTimeouts(t *testing.T) {
	slow := coordinator.Timeouts{Heartbeat: 20 * time.Second, Election: 20 * time.Second, LeaderLease: 100 * time.Millisecond, Commit: 5 * time.Millisecond}
	c := coordtest.New(t, 1, func(_ int, cfg *coordinator.Config) { cfg.Timeouts = slow })
	// With a 20 s heartbeat timeout the first election would come after
	// 20-40 s; the test's deadline is well below that.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Leader(ctx); err != nil {
		t.Fatalf("no leader within 10 s (a heartbeat timeout is 20 s): %v", err)
	}
	r := c.Node(0).Raft()
	for r.ReloadableConfig().HeartbeatTimeout != slow.Heartbeat || r.ReloadableConfig().ElectionTimeout != slow.Election {
		select {
		case <-ctx.Done():
			t.Fatalf("the configured timeouts never came back: %+v", r.ReloadableConfig())
		case <-time.After(10 * time.Millisecond): // polling raft's config: no event to wait on
		}
	}
}
