package main

import (
	"math"
	"slices"
	"testing"
)

func TestGenerateIsSeededAndInRange(t *testing.T) {
	sz := Sizes{Noop: 7, Pack: 300, Deep: 11}
	pack, err := Generate("pack", 42, sz)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Generate("pack", 42, sz)
	if !slices.Equal(pack.Tasks, again.Tasks) {
		t.Fatal("the same seed gave two different pack workloads")
	}
	other, _ := Generate("pack", 43, sz)
	if slices.Equal(pack.Tasks, other.Tasks) {
		t.Fatal("seeds 42 and 43 gave the same pack workload")
	}
	one, _ := Generate("pack1c", 42, sz)
	cores := map[int]int{}
	for i, task := range pack.Tasks {
		if task.Dur < 0.05 || task.Dur > 0.5 {
			t.Errorf("task %d sleeps %v s, want 0.05–0.5", i, task.Dur)
		}
		if one.Tasks[i].Dur != task.Dur || one.Tasks[i].Cores != 1 {
			t.Errorf("pack1c task %d = %+v, want pack's duration %v on one slot", i, one.Tasks[i], task.Dur)
		}
		cores[task.Cores]++
	}
	if len(cores) != 2 || cores[1] == 0 || cores[2] == 0 {
		t.Errorf("pack slots per task: %v, want both 1 and 2", cores)
	}
	if pack.Slots != 4 || !pack.MultiSlot() || one.MultiSlot() || !pack.Sleeps() {
		t.Errorf("pack: slots %d multi %v; pack1c multi %v", pack.Slots, pack.MultiSlot(), one.MultiSlot())
	}
	for name, n := range map[string]int{"noop": 7, "deep": 11} {
		w, err := Generate(name, 1, sz)
		if err != nil || len(w.Tasks) != n || w.Slots != 2 || w.Sleeps() || w.LowerBound() != 0 {
			t.Errorf("%s: %d tasks on %d slots, sleeps %v, err %v; want %d `true` on 2", name, len(w.Tasks), w.Slots, w.Sleeps(), err, n)
		}
	}
	if _, err := Generate("nope", 1, sz); err == nil {
		t.Error("an unknown workload was accepted")
	}
}

func TestLowerBound(t *testing.T) {
	for _, c := range []struct {
		name  string
		tasks []Task
		want  float64
	}{
		{"core-seconds over slots", []Task{{1, 0.4}, {2, 0.4}, {1, 0.4}, {2, 0.4}}, (0.4 + 0.8 + 0.4 + 0.8) / 4},
		{"the longest task", []Task{{1, 0.5}, {1, 0.1}}, 0.5},
	} {
		if got := (Workload{Slots: 4, Tasks: c.tasks}).LowerBound(); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: lower bound %v, want %v", c.name, got, c.want)
		}
	}
}

func TestGreedyMakespan(t *testing.T) {
	w := Workload{Slots: 4, Tasks: []Task{{2, 1}, {2, 1}, {1, 0.5}, {4, 1}, {1, 0.25}}}
	// 0–1: both 2-slot tasks; 1–1.5: the 0.5 s task, and the 0.25 s one
	// backfilled beside it (the 4-slot task waits for all four); 1.5–2.5: the 4-slot.
	if got := w.GreedyMakespan(); got != 2.5 {
		t.Errorf("greedy makespan %v, want 2.5", got)
	}
	pack, _ := Generate("pack", 1, FullSizes)
	if g, lb := pack.GreedyMakespan(), pack.LowerBound(); g < lb || g > 1.1*lb {
		t.Errorf("pack: greedy %v against lower bound %v", g, lb)
	}
}
