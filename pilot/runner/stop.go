package runner

import (
	"sync"
	"syscall"
	"time"
)

// groupStop ends a task's process group from outside the goroutine that
// waits for it (a cancel, a timeout): SIGTERM to the group, then SIGKILL
// after the grace unless the main process has exited by then. No signal is
// sent once exited is called, so none can reach a group whose id was freed
// by the reaping that follows.
type groupStop struct {
	pgid  int
	grace time.Duration

	mu   sync.Mutex
	why  Reason      // the first stop's reason; ReasonNone: never stopped
	done bool        // the main process exited
	kill *time.Timer // the SIGKILL after the grace
}

// begin stops the group for why, once; after exited it does nothing.
func (g *groupStop) begin(why Reason) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done || g.why != ReasonNone {
		return
	}
	g.why = why
	_ = syscall.Kill(-g.pgid, syscall.SIGTERM)
	g.kill = time.AfterFunc(g.grace, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.done {
			_ = syscall.Kill(-g.pgid, syscall.SIGKILL)
		}
	})
}

// exited records that the main process has exited and returns why the
// group was stopped (ReasonNone: it was not).
func (g *groupStop) exited() Reason {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.done = true
	if g.kill != nil {
		g.kill.Stop()
	}
	return g.why
}
