package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Task is one generated task: how many slots it needs and, for the pack
// workloads, how long it sleeps (zero: the task is `true`).
type Task struct {
	Cores int
	Dur   float64
}

// Workload is one generated body of work with the slots it runs on.
type Workload struct {
	Name  string
	Slots int
	Tasks []Task
}

// Sleeps reports whether the tasks sleep (and stamp) rather than run `true`.
func (w Workload) Sleeps() bool { return len(w.Tasks) > 0 && w.Tasks[0].Dur > 0 }

// MultiSlot reports whether some task needs more than one slot, which xargs
// and parallel cannot express.
func (w Workload) MultiSlot() bool {
	for _, t := range w.Tasks {
		if t.Cores > 1 {
			return true
		}
	}
	return false
}

// LowerBound is the makespan no schedule can beat: the core-seconds spread
// over every slot, or the longest task if that is longer. Zero for `true`.
func (w Workload) LowerBound() float64 {
	var sum, longest float64
	for _, t := range w.Tasks {
		sum += t.Dur * float64(t.Cores)
		longest = max(longest, t.Dur)
	}
	return max(sum/float64(w.Slots), longest)
}

// Sizes are the task counts of the workloads; QUICK=1 shrinks them.
type Sizes struct {
	Noop, Pack, Deep int
}

// FullSizes are the issue's: 5,000 noop, 200 pack, 50,000 deep.
var FullSizes = Sizes{Noop: 5000, Pack: 200, Deep: 50000}

// QuickSizes keep a whole run to a few minutes.
var QuickSizes = Sizes{Noop: 1000, Pack: 100, Deep: 5000}

// Generate builds the named workload from seed. pack and pack1c draw the
// same durations (uniform 0.05–0.5 s) for the same seed; pack's tasks need
// 1 or 2 of 4 slots, pack1c's one.
func Generate(name string, seed uint64, sz Sizes) (Workload, error) {
	w := Workload{Name: name}
	switch name {
	case "noop":
		w.Slots = 2
		w.Tasks = trues(sz.Noop)
	case "deep":
		w.Slots = 2
		w.Tasks = trues(sz.Deep)
	case "pack", "pack1c":
		w.Slots = 4
		durs := rand.New(rand.NewPCG(seed, 1))
		cores := rand.New(rand.NewPCG(seed, 2))
		for range sz.Pack {
			// Durations are whole milliseconds, as the tasks are given them.
			t := Task{Cores: 1, Dur: math.Round(50+450*durs.Float64()) / 1000}
			if name == "pack" {
				t.Cores = 1 + cores.IntN(2)
			}
			w.Tasks = append(w.Tasks, t)
		}
	default:
		return w, fmt.Errorf("workload %q: want noop, pack, pack1c or deep", name)
	}
	return w, nil
}

func trues(n int) []Task {
	ts := make([]Task, n)
	for i := range ts {
		ts[i] = Task{Cores: 1}
	}
	return ts
}

// GreedyMakespan is the makespan of a zero-overhead list schedule with
// backfill: whenever slots free up, the tasks are scanned in order and each
// that fits starts at once. It is the reference for what a real system's
// overhead adds; LowerBound is what no schedule can beat.
func (w Workload) GreedyMakespan() float64 {
	free, now := w.Slots, 0.0
	pending := slices.Clone(w.Tasks)
	var ends []float64 // end times of running tasks, with their slots below
	var slots []int
	for len(pending) > 0 || len(ends) > 0 {
		kept := pending[:0]
		for _, t := range pending {
			if t.Cores <= free {
				free -= t.Cores
				ends, slots = append(ends, now+t.Dur), append(slots, t.Cores)
			} else {
				kept = append(kept, t)
			}
		}
		pending = kept
		if len(ends) == 0 {
			break // a task wider than every slot: never placed
		}
		i := slices.Index(ends, slices.Min(ends))
		now = ends[i]
		free += slots[i]
		ends, slots = slices.Delete(ends, i, i+1), slices.Delete(slots, i, i+1)
	}
	return now
}
