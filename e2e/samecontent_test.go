package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestSameContentRunsOnce queues tasks of one content (same argv, no
// input): they share one scratch cache entry, so one of them computes it
// and the others reuse the sealed result. Tasks waiting for the entry wait
// for it (an attempt that failed at once instead would be requeued and
// placed again in a hot loop, spending no retry): every task ends done at
// its first attempt, and the command runs once.
func TestSameContentRunsOnce(t *testing.T) {
	skipShort(t)
	var lines, ids []string
	for i := range 30 {
		id := fmt.Sprintf("same%02d", i)
		ids = append(ids, id)
		lines = append(lines, fmt.Sprintf(`{"id":%q,"cmd":["sleep","0.3"]}`, id))
	}
	c := newCluster(t, lines)
	c.startN(2, agentOpts{cores: 2, voters: 1})
	c.waitFinished(len(ids), 60*time.Second)

	hits := 0
	for id, r := range c.results(ids) {
		if r.State != "done" || r.Attempts != 1 {
			t.Errorf("task %s: %s after %d attempts (%s), want done at the first", id, r.State, r.Attempts, r.Error)
		}
		if r.Cache == "hit" {
			hits++
		}
	}
	ran := 0
	for _, a := range c.attempts() {
		if a.Cache == "miss" {
			ran++
		}
	}
	if ran != 1 || hits != len(ids)-1 {
		t.Errorf("the command ran %d times and %d results were cache hits; want 1 and %d", ran, hits, len(ids)-1)
	}
}
