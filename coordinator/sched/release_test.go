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
	cases := []struct {
		name    string
		nodes   []Node
		pending []Task
		want    []string
	}{
		{"idle, nothing pending", []Node{node("a1", "a", time.Hour, 8), node("a2", "a", time.Hour, 8)}, nil, []string{"a"}},
		{"idle, the pending task needs more time", []Node{node("a1", "a", time.Hour, 8)}, []Task{long}, []string{"a"}},
		{"idle, the pending task fits its time", []Node{node("a1", "a", 4*time.Hour, 8)}, []Task{long}, nil},
		{"a task with no estimate needs only the margin", []Node{node("a1", "a", time.Hour, 8)}, []Task{{ID: "x", Cores: 1, Key: "fn"}}, nil},
		{"the pending task is wider than its nodes", []Node{node("a1", "a", 4*time.Hour, 8)}, []Task{{ID: "w", Cores: 9, Est: time.Minute}}, []string{"a"}},
		{"one node busy", []Node{node("a1", "a", time.Hour, 8), node("a2", "a", time.Hour, 7)}, nil, nil},
		{"only the idle pilot", []Node{node("a1", "a", time.Hour, 3), node("b1", "b", time.Hour, 8)}, []Task{long}, []string{"b"}},
		{"already draining", []Node{{ID: "a1", Pilot: "a", TotalCores: 8, FreeCores: 8, PilotEnd: now.Add(time.Hour), Draining: true}}, nil, nil},
		{"end unknown", []Node{{ID: "a1", Pilot: "a", TotalCores: 8, FreeCores: 8}}, nil, nil},
		{"no pilot named", []Node{node("a1", "", time.Hour, 8)}, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Releasable(c.nodes, c.pending, nil, now, cfg); !slices.Equal(got, c.want) {
				t.Errorf("Releasable = %v, want %v", got, c.want)
			}
		})
	}
}
