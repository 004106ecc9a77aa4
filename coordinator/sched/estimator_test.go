package sched

import (
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

func TestEstimator(t *testing.T) {
	e, err := NewEstimator(0.9, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Estimate("f/1"); ok {
		t.Fatal("an estimate with no observations")
	}
	e.Observe("f/1", 5*time.Second)
	e.Observe("f/1", 1*time.Second)
	if _, ok := e.Estimate("f/1"); ok {
		t.Fatal("an estimate from 2 observations, minSamples is 3")
	}
	for i := 3; i <= 10; i++ {
		e.Observe("f/1", time.Duration(i)*time.Second)
	}
	// Sorted: 1,3,4,5,5,6,7,8,9,10 s; the 90th percentile is the 9th value.
	if d, _ := e.Estimate("f/1"); d != 9*time.Second {
		t.Fatalf("p90 = %s, want 9s", d)
	}
	// The window keeps the last 10: ten observations of 100 s evict all others.
	for range 10 {
		e.Observe("f/1", 100*time.Second)
	}
	if d, _ := e.Estimate("f/1"); d != 100*time.Second {
		t.Fatalf("after eviction p90 = %s, want 100s", d)
	}
	if _, ok := e.Estimate("g/1"); ok {
		t.Fatal("keys leak into each other")
	}
	var none *Estimator
	if _, ok := none.Estimate("f/1"); ok {
		t.Fatal("a nil estimator estimates")
	}
	for _, bad := range [][3]float64{{0, 10, 1}, {1.5, 10, 1}, {0.9, 0, 1}, {0.9, 5, 6}} {
		if _, err := NewEstimator(bad[0], int(bad[1]), int(bad[2])); err == nil {
			t.Errorf("NewEstimator%v: no error", bad)
		}
	}
}

func TestShapeKey(t *testing.T) {
	for _, c := range []struct {
		spec task.Spec
		want string
	}{
		{task.Spec{Fn: "nmr-shift", Cores: 8}, "nmr-shift/8"},
		{task.Spec{Cmd: []string{"/opt/bin/orca", "in.inp"}, Cores: 1}, "orca/1"},
		{task.Spec{Cmd: []string{"true"}, Cores: 128}, "true/128"},
		{task.Spec{Cores: 2}, "/2"},
	} {
		if got := ShapeKey(c.spec); got != c.want {
			t.Errorf("ShapeKey(%+v) = %q, want %q", c.spec, got, c.want)
		}
	}
}

// ExpectedEnd takes the task's own estimate, else the learned one, else
// says it does not know.
func TestExpectedEnd(t *testing.T) {
	e := DefaultEstimator()
	for range 5 {
		e.Observe("f/1", time.Hour)
	}
	for _, c := range []struct {
		est  time.Duration
		key  string
		want time.Duration
		ok   bool
	}{{time.Minute, "f/1", time.Minute, true}, {0, "f/1", time.Hour, true}, {0, "g/1", 0, false}} {
		end, ok := ExpectedEnd(t0, c.est, c.key, e)
		if ok != c.ok || (ok && !end.Equal(t0.Add(c.want))) {
			t.Errorf("ExpectedEnd(est %s, %s) = %v, %v; want +%s, %v", c.est, c.key, end, ok, c.want, c.ok)
		}
	}
	if _, ok := ExpectedEnd(t0, 0, "f/1", nil); ok {
		t.Error("no estimate and no estimator: want no expected end")
	}
}
