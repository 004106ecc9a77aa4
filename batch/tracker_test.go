package batch

import (
	"strings"
	"testing"
)

func TestTrackerConfirmsGone(t *testing.T) {
	tr := &Tracker{Confirmations: 3}
	ids := []string{"1", "2"}
	running := JobStatus{ID: "1", State: Running, Nodes: []string{"n1"}}
	got := tr.Observe(ids, map[string]JobStatus{"1": running, "2": {ID: "2", State: Pending}})
	if got["1"].State != Running || got["2"].State != Pending {
		t.Fatalf("first poll: %+v", got)
	}
	// Job 1 vanishes (purged after it ended). Two misses keep its last
	// state; the third makes it Gone, and Gone stays.
	for poll := 1; poll <= 2; poll++ {
		got = tr.Observe(ids, map[string]JobStatus{"2": {ID: "2", State: Pending}})
		if got["1"].State != Running || !strings.Contains(got["1"].Reason, "not listed") {
			t.Fatalf("miss %d: %+v", poll, got["1"])
		}
	}
	got = tr.Observe(ids, map[string]JobStatus{"2": {ID: "2", State: Pending}})
	if got["1"].State != Gone || !got["1"].State.Terminal() || got["1"].Nodes[0] != "n1" {
		t.Fatalf("third miss: %+v", got["1"])
	}
	got = tr.Observe(ids, map[string]JobStatus{"1": running, "2": {ID: "2", State: Pending}})
	if got["1"].State != Gone {
		t.Fatalf("a Gone job came back: %+v", got["1"])
	}
}

func TestTrackerMissesMustBeInARow(t *testing.T) {
	tr := &Tracker{}
	ids := []string{"9"}
	for range 10 {
		// Missed, missed, seen: never three in a row, never Gone.
		for miss := 0; miss < DefaultConfirmations-1; miss++ {
			if s := tr.Observe(ids, nil)["9"]; s.State == Gone {
				t.Fatal("gone before three misses in a row")
			}
		}
		tr.Observe(ids, map[string]JobStatus{"9": {ID: "9", State: Running}})
	}
	// A job never seen at all is Pending (just submitted) until confirmed gone.
	tr = &Tracker{Confirmations: 2}
	if s := tr.Observe([]string{"new"}, nil)["new"]; s.State != Pending {
		t.Fatalf("new job: %+v", s)
	}
	if s := tr.Observe([]string{"new"}, nil)["new"]; s.State != Gone {
		t.Fatalf("never listed twice: %+v", s)
	}
	// Ids not passed are forgotten.
	tr.Observe([]string{"other"}, nil)
	if len(tr.last) != 1 {
		t.Fatalf("tracker kept %d jobs", len(tr.last))
	}
}
