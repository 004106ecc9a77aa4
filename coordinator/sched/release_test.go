package sched

import (
	"slices"
	"testing"
	"time"
)

func TestReleasable(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := DefaultConfig() // need = est*1.5 + 2 min
	node := func(id, pilot string, left time.Duration, free int) Node {
		return Node{ID: id, Pilot: pilot, TotalCores: 8, FreeCores: free, TotalMemMB: 1000, FreeMemMB: 1000, PilotEnd: now.Add(left)}
	}
	long := Task{ID: "long", Cores: 1, Est: 2 * time.Hour} // needs 3h02m
	busy := node("z1", "z", 20*time.Hour, 0)               // a pilot at work, which stays
	cases := []struct {
		name    string
		nodes   []Node
		pending []Task
		want    []string
	}{
		{"idle, nothing pending", []Node{node("a1", "a", time.Hour, 8), node("a2", "a", time.Hour, 8), busy}, nil, []string{"a"}},
		{"idle, the pending task needs more time", []Node{node("a1", "a", time.Hour, 8), busy}, []Task{long}, []string{"a"}},
		{"idle, the pending task fits its time", []Node{node("a1", "a", 4*time.Hour, 8), busy}, []Task{long}, nil},
		{"a task with no estimate needs only the margin", []Node{node("a1", "a", time.Hour, 8), busy}, []Task{{ID: "x", Cores: 1, Key: "fn"}}, nil},
		{"the pending task is wider than its nodes", []Node{node("a1", "a", 4*time.Hour, 8), busy}, []Task{{ID: "w", Cores: 9, Est: time.Minute}}, []string{"a"}},
		{"one node busy", []Node{node("a1", "a", time.Hour, 8), node("a2", "a", time.Hour, 7), busy}, nil, nil},
		{"already draining", []Node{{ID: "a1", Pilot: "a", TotalCores: 8, FreeCores: 8, PilotEnd: now.Add(time.Hour), Draining: true}, busy}, nil, nil},
		{"end unknown", []Node{{ID: "a1", Pilot: "a", TotalCores: 8, FreeCores: 8}, busy}, nil, nil},
		{"no pilot named", []Node{node("a1", "", time.Hour, 8)}, nil, nil},
		// The cluster keeps one pilot, the one that ends last.
		{"the last pilot stays", []Node{node("a1", "a", time.Hour, 8)}, []Task{long}, nil},
		{"the pilot that ends last stays", []Node{node("a1", "a", time.Hour, 8), node("b1", "b", 2*time.Hour, 8), node("c1", "c", time.Hour, 8)}, []Task{long}, []string{"a", "c"}},
		{"a draining pilot is not live", []Node{node("a1", "a", time.Hour, 8), {ID: "d1", Pilot: "d", TotalCores: 8, PilotEnd: now.Add(time.Hour), Draining: true}}, []Task{long}, nil},
		{"a live node of no pilot", []Node{node("a1", "a", time.Hour, 8), node("u1", "", time.Hour, 8)}, []Task{long}, []string{"a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Releasable(c.nodes, c.pending, nil, now, cfg); !slices.Equal(got, c.want) {
				t.Errorf("Releasable = %v, want %v", got, c.want)
			}
		})
	}
}
