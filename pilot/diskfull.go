package pilot

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// minFreeBytes is the free space under which the scratch filesystem counts
// as full.
const minFreeBytes = 1 << 20

// scratchFull says whether the filesystem holding dir has less than
// minFreeBytes free for this user, and how much it has.
func scratchFull(dir string) (bool, uint64) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false, 0
	}
	free := st.Bavail * uint64(st.Bsize)
	return free < minFreeBytes, free
}

// waitForSpace holds an attempt that failed on a full scratch filesystem
// (it keeps its place in the node's backlog, so the node takes no more
// work than that) until the filesystem has room again or ctx ends, and
// returns the reason to report with it: "disk-full: ...". Its
// failure is the node's, not the task's (class infra, no retry spent).
// Reporting at once would requeue the task to a node whose disk is still
// full: a hot loop that spends an attempt number a millisecond.
func (e *executor) waitForSpace(ctx context.Context, free uint64, cause string) string {
	dir := e.cache.Root()
	reason := fmt.Sprintf("disk-full: the scratch filesystem at %s has %d bytes free: %s", dir, free, cause)
	e.log.Warn("scratch filesystem full: the attempt waits for space before it is requeued", "dir", dir, "free", free)
	wait := 50 * time.Millisecond
	for {
		if full, _ := scratchFull(dir); !full {
			return reason
		}
		select {
		case <-ctx.Done():
			return reason
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}
