package runner

import (
	"slices"
	"strings"
	"testing"

	"github.com/pilot-hpc/pilot/task"
)

// Each name reaches the task once, with the value of the last source that
// sets it: the base, Extra, OMP_NUM_THREADS, the task's env, the PILOT_
// variables (which the task cannot set).
func TestEnvironNamesOnceLastWins(t *testing.T) {
	r := &Request{
		Spec: task.Spec{ID: "t1", Cores: 3, Env: map[string]string{
			"PATH": "/task/bin", "OMP_NUM_THREADS": "1", "PILOT_TASK_ID": "forged", "PILOT_OUTDIR": "/task/out", "MINE": "x",
		}},
		Attempt: 2,
		Workdir: "/w",
		Env:     []string{"HOME=/home/u", "PATH=/usr/bin", "PILOT_OUTDIR=/outer/out", "PILOT_WORKDIR=/outer/work", "LANG=C"},
		Extra:   []string{"PILOT_WORKDIR=/w", "PILOT_OUTDIR=/lease/out", "PILOT_CACHE=/c"},
	}
	got := environ(r)
	want := map[string]string{
		"HOME": "/home/u", "LANG": "C", "PATH": "/task/bin", "PILOT_CACHE": "/c", "PILOT_OUTDIR": "/task/out",
		"OMP_NUM_THREADS": "1", "MINE": "x",
		"PILOT_TASK_ID": "t1", "PILOT_ATTEMPT": "2", "PILOT_WORKDIR": "/w", "PILOT_CORES": "3",
	}
	seen := map[string]bool{}
	for _, kv := range got {
		name, value, _ := strings.Cut(kv, "=")
		if seen[name] {
			t.Errorf("%s given twice: %q", name, got)
		}
		seen[name] = true
		if want[name] != value {
			t.Errorf("%s=%q, want %q", name, value, want[name])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("names %v, want %d of them", got, len(want))
	}
	r.Spec.Env = nil
	if got := environ(r); !slices.Contains(got, "OMP_NUM_THREADS=3") || !slices.Contains(got, "PILOT_OUTDIR=/lease/out") {
		t.Errorf("without the task's env: %q", got)
	}
}

func TestLastOfEach(t *testing.T) {
	got := LastOfEach([]string{"A=1", "B=2", "A=3", "C=4", "B=5"})
	if want := []string{"A=3", "C=4", "B=5"}; !slices.Equal(got, want) {
		t.Fatalf("LastOfEach = %q, want %q", got, want)
	}
}
