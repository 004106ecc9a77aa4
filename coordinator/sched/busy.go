package sched

import "time"

// ExpectedEnd is when a task that started at start is expected to end, for
// Node.BusyUntil: start plus its own estimate (est > 0), else plus the
// learned estimate of its key. With neither, ok is false: a node running
// such a task has no expected end, and Place does not count on it freeing
// up (it reserves no such node and a hold on it lapses).
func ExpectedEnd(start time.Time, est time.Duration, key string, learned *Estimator) (end time.Time, ok bool) {
	if est <= 0 {
		if est, ok = learned.Estimate(key); !ok {
			return time.Time{}, false
		}
	}
	return start.Add(est), true
}

// AddTask notes a task of cores cores assigned to or running on the node,
// expected to end at end (zero: not known), as of now: it sets Widest,
// WideEnd and NarrowCoreS (the leader and the simulator call it for every
// such task). TotalCores must be set first.
func (n *Node) AddTask(cores int, end, now time.Time) {
	if 2*cores > n.TotalCores {
		if cores > n.Widest {
			n.WideEnd = end
		}
	} else if !end.IsZero() {
		n.NarrowCoreS += float64(cores) * max(end.Sub(now), 0).Seconds()
	}
	n.Widest = max(n.Widest, cores)
}
