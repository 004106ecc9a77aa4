package sched

import (
	"fmt"
	"slices"
	"time"
)

// fitCheck decides whether a task fits any live node or configured pilot
// at all, even an empty one; a task that does not is unschedulable.
type fitCheck struct {
	sizes  []Shape // distinct live node sizes, Walltime = most time left
	shapes []Shape
}

func newFitCheck(v View, now time.Time) *fitCheck {
	fc := &fitCheck{shapes: v.Shapes}
	for _, n := range v.Nodes {
		left := n.PilotEnd.Sub(now)
		i := slices.IndexFunc(fc.sizes, func(s Shape) bool { return s.Cores == n.TotalCores && s.MemMB == n.TotalMemMB })
		if i < 0 {
			fc.sizes = append(fc.sizes, Shape{Cores: n.TotalCores, MemMB: n.TotalMemMB, Walltime: left})
		} else {
			fc.sizes[i].Walltime = max(fc.sizes[i].Walltime, left)
		}
	}
	return fc
}

// check says whether c cores and m MB for more than need fit somewhere,
// and if not, which limit is too small and by how much. Shapes are judged
// by size and walltime. Live nodes are judged by size and, when shapes are
// configured, by the time their pilots have left; with no shapes the pilots
// still to come are unknown, so no task is refused for its walltime. With
// no nodes and no shapes nothing is judged.
func (fc *fitCheck) check(c int, m int64, need time.Duration) (Reason, string, bool) {
	if len(fc.sizes) == 0 && len(fc.shapes) == 0 {
		return "", "", true
	}
	maxCores, maxMem, maxWall := 0, int64(0), time.Duration(0)
	timed := len(fc.shapes) > 0
	for _, s := range fc.sizes {
		if s.Cores >= c && s.MemMB >= m && (!timed || s.Walltime > need) {
			return "", "", true
		}
		maxCores = max(maxCores, s.Cores)
		if s.Cores >= c {
			maxMem = max(maxMem, s.MemMB)
			if s.MemMB >= m {
				maxWall = max(maxWall, s.Walltime)
			}
		}
	}
	for _, s := range fc.shapes {
		if s.Cores >= c && s.MemMB >= m && s.Walltime > need {
			return "", "", true
		}
		maxCores = max(maxCores, s.Cores)
		if s.Cores >= c {
			maxMem = max(maxMem, s.MemMB)
			if s.MemMB >= m {
				maxWall = max(maxWall, s.Walltime)
			}
		}
	}
	switch {
	case maxCores < c:
		return ReasonCores, fmt.Sprintf("needs %d cores; the largest node of any live or configured pilot has %d: lower \"cores\" or add a pilot with bigger nodes", c, maxCores), false
	case maxMem < m:
		return ReasonMemory, fmt.Sprintf("needs %d MB of memory; the largest node with %d cores has %d MB: lower \"mem_mb\" or add a pilot with more memory", m, c, maxMem), false
	default:
		return ReasonWalltime, fmt.Sprintf("needs %s including the walltime margin; the longest live or configured pilot has %s: lower \"est_s\" or configure a longer walltime", need.Round(time.Second), maxWall.Round(time.Second)), false
	}
}
