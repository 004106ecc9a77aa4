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
