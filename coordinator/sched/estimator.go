package sched

import (
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// Estimator learns runtimes: for each function/shape key it keeps the last
// Keep observed runtimes in sorted order and answers a high quantile of
// them. It is plain data, deterministic (the same observations in the same
// order give the same estimates), and not safe for concurrent use: the
// leader owns it and feeds it from completed tasks.
type Estimator struct {
	quantile float64
	keep     int
	min      int
	keys     map[string]*history
}

type history struct {
	order  []time.Duration // by arrival, a ring of at most keep
	next   int             // where the next observation overwrites, once full
	sorted []time.Duration
}

// NewEstimator learns the given quantile (0 < q ≤ 1) of the last keep
// runtimes of each key, and answers once a key has at least minSamples.
func NewEstimator(quantile float64, keep, minSamples int) (*Estimator, error) {
	if !(quantile > 0 && quantile <= 1) {
		return nil, fmt.Errorf("sched: estimator quantile %g must be in (0, 1]", quantile)
	}
	if keep < 1 || minSamples < 1 || minSamples > keep {
		return nil, fmt.Errorf("sched: estimator needs 1 ≤ minSamples (%d) ≤ keep (%d)", minSamples, keep)
	}
	return &Estimator{quantile: quantile, keep: keep, min: minSamples, keys: map[string]*history{}}, nil
}

// DefaultEstimator learns the 95th percentile of the last 100 runtimes of a
// key, once it has seen 5.
func DefaultEstimator() *Estimator {
	e, _ := NewEstimator(0.95, 100, 5)
	return e
}

// Observe records the runtime of a completed attempt of a task with key.
func (e *Estimator) Observe(key string, runtime time.Duration) {
	h := e.keys[key]
	if h == nil {
		h = &history{}
		e.keys[key] = h
	}
	if len(h.order) < e.keep {
		h.order = append(h.order, runtime)
	} else {
		old := h.order[h.next]
		h.order[h.next] = runtime
		h.next = (h.next + 1) % e.keep
		i, _ := slices.BinarySearch(h.sorted, old)
		h.sorted = slices.Delete(h.sorted, i, i+1)
	}
	i, _ := slices.BinarySearch(h.sorted, runtime)
	h.sorted = slices.Insert(h.sorted, i, runtime)
}

// Estimate is the learned runtime of key, if it has enough observations.
func (e *Estimator) Estimate(key string) (time.Duration, bool) {
	if e == nil {
		return 0, false
	}
	h := e.keys[key]
	if h == nil || len(h.sorted) < e.min {
		return 0, false
	}
	i := int(math.Ceil(e.quantile*float64(len(h.sorted)))) - 1
	return h.sorted[max(i, 0)], true
}

// ShapeKey is the key a task's runtime is learned under: its function (or
// the base name of its executable) and its cores, e.g. "nmr-shift/8".
func ShapeKey(s task.Spec) string {
	name := s.Fn
	if name == "" && len(s.Cmd) > 0 {
		name = path.Base(s.Cmd[0])
	}
	return name + "/" + strconv.Itoa(s.Cores) // not fmt: the leader keys every queued task each round
}
