package sched

// LeaseRoom is how many cores of tasks may be leased from upstream into a
// ledger that holds queued cores of queued tasks, when the window sized to
// the cluster is window cores (the leader's WindowFactor times the cores
// of the nodes that take work; the simulator's Window likewise). unfit is
// the cores of the queued tasks the last plan left waiting that cannot
// use the room there is (Plan.Unfit): those no live pilot has the time
// left for, and those wider than every gap while cores idle.
//
// Those tasks do not count against the window: near the end of the
// pilots a window full of long tasks that fit no pilot's remaining time
// would lease no short task to fill the idle cores, and a window full of
// wide tasks would lease no narrow one to fill the gaps. At most one
// window of them is left out, so the ledger never holds more than two
// windows, and the backlog stays upstream (promise 6). The leader and the
// simulator both call this, so they follow one rule.
func LeaseRoom(window, queued, unfit int) int {
	skip := min(max(unfit, 0), queued, window)
	return max(window-(queued-skip), 0)
}
