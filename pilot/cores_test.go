package pilot

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

func TestCoresBasics(t *testing.T) {
	c, err := NewCores(4, []int{8, 9, 10, 11})
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Alloc("t1/1", 2)
	if err != nil || !slices.Equal(a.IDs, []int{0, 1}) || !slices.Equal(a.CPUs, []int{8, 9}) {
		t.Fatalf("alloc: %+v %v", a, err)
	}
	again, err := c.Alloc("t1/1", 2)
	if err != nil || !slices.Equal(again.IDs, a.IDs) || c.Free() != 2 {
		t.Fatalf("repeated alloc: %+v %v, free %d", again, err, c.Free())
	}
	if _, err := c.Alloc("t1/1", 3); err == nil {
		t.Fatal("a holder asked for another size and got it")
	}
	if _, err := c.Alloc("t2/1", 3); !errors.Is(err, ErrNoCores) {
		t.Fatalf("over-ask: %v, want ErrNoCores", err)
	}
	b, _ := c.Alloc("t2/1", 1)
	c.Release("t1/1")
	// ids 0,1 free, 2 held, 3 free: a 2-core ask takes the run 0-1.
	d, err := c.Alloc("t3/1", 2)
	if err != nil || !slices.Equal(d.IDs, []int{0, 1}) {
		t.Fatalf("contiguous: %+v %v (t2 holds %v)", d, err, b.IDs)
	}
	c.Release("t3/1")
	c.Release("t2/1")
	if c.Free() != 4 || c.Release("t2/1") {
		t.Fatal("release is not idempotent")
	}
}

func TestCoresFragmentedFallsBackToLowestFree(t *testing.T) {
	c, _ := NewCores(4, nil)
	c.Alloc("a", 1)
	c.Alloc("b", 1)
	c.Alloc("c", 1)
	c.Release("a")
	c.Release("c")
	// free: 0, 2, 3 (b holds 1)
	d, err := c.Alloc("d", 2)
	if err != nil || !slices.Equal(d.IDs, []int{2, 3}) || d.CPUs != nil {
		t.Fatalf("contiguous run: %+v %v", d, err)
	}
	c.Release("d")
	e, err := c.Alloc("e", 3)
	if err != nil || !slices.Equal(e.IDs, []int{0, 2, 3}) {
		t.Fatalf("fragmented: %+v %v", e, err)
	}
}

func TestCoresVirtualWrap(t *testing.T) {
	c, _ := NewCores(3, []int{0, 1})
	a, _ := c.Alloc("a", 3)
	if !slices.Equal(a.CPUs, []int{0, 1}) {
		t.Fatalf("3 virtual cores over 2 cpus: %+v", a)
	}
}

func TestNewCoresRejects(t *testing.T) {
	if _, err := NewCores(0, nil); err == nil {
		t.Fatal("0 cores accepted")
	}
	if _, err := NewCores(2, []int{-1}); err == nil {
		t.Fatal("negative cpu accepted")
	}
}

// TestCoresNeverOverlap drives random alloc/release sequences and checks
// after every step that no core id and (while cores ≤ cpus) no CPU is held
// twice, and that the free count adds up.
func TestCoresNeverOverlap(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 16).Draw(t, "cores")
		ncpu := rapid.IntRange(0, 20).Draw(t, "cpus")
		cpus := make([]int, ncpu)
		for i := range cpus {
			cpus[i] = 2 * i // sparse ids, like a cgroup's cpuset
		}
		c, err := NewCores(n, cpus)
		if err != nil {
			t.Fatal(err)
		}
		holders := map[string]Allocation{}
		for step := range rapid.IntRange(1, 60).Draw(t, "steps") {
			owner := fmt.Sprintf("t%d", rapid.IntRange(0, 9).Draw(t, "owner"))
			if rapid.Bool().Draw(t, "alloc") {
				k := rapid.IntRange(1, n).Draw(t, "k")
				a, err := c.Alloc(owner, k)
				prev, held := holders[owner]
				switch {
				case held && len(prev.IDs) != k:
					if err == nil {
						t.Fatalf("step %d: resize accepted", step)
					}
				case err == nil:
					holders[owner] = a
				case !errors.Is(err, ErrNoCores) || c.Free() >= k:
					t.Fatalf("step %d: alloc %d with %d free: %v", step, k, c.Free(), err)
				}
			} else {
				_, held := holders[owner]
				if c.Release(owner) != held {
					t.Fatalf("step %d: release of %s disagrees", step, owner)
				}
				delete(holders, owner)
			}
			ids, cpuSeen, used := map[int]string{}, map[int]string{}, 0
			for o, a := range holders {
				used += len(a.IDs)
				for _, i := range a.IDs {
					if i < 0 || i >= n {
						t.Fatalf("id %d out of range", i)
					}
					if other, dup := ids[i]; dup {
						t.Fatalf("core %d held by %s and %s", i, other, o)
					}
					ids[i] = o
				}
				if n <= ncpu {
					for _, cpu := range a.CPUs {
						if other, dup := cpuSeen[cpu]; dup {
							t.Fatalf("cpu %d held by %s and %s", cpu, other, o)
						}
						cpuSeen[cpu] = o
					}
				}
			}
			if c.Free() != n-used {
				t.Fatalf("free %d, want %d", c.Free(), n-used)
			}
		}
	})
}
