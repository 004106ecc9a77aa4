package pilot

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrNoCores is returned when an allocation asks for more cores than are
// free. The scheduler should never cause it; when it does, the leader's view
// of this node is stale and the assignment must be refused, not squeezed in.
var ErrNoCores = errors.New("not enough free cores")

// Cores hands out the node's advertised cores to tasks. A node advertises n
// cores with ids 0..n-1; core id i runs on the OS CPU cpus[i mod len(cpus)].
// While n ≤ len(cpus) distinct ids are distinct CPUs, so tasks holding
// disjoint ids never share a CPU. With more advertised cores than CPUs (a
// deliberately oversubscribed test node, or 'pilot local' with more agents
// than cores) ids still never overlap but CPUs may.
//
// Cores does no IO and reads no clock; all methods are safe for concurrent
// use.
type Cores struct {
	mu    sync.Mutex
	cpus  []int
	owner []string // per core id; "" is free
	held  map[string][]int
}

// Allocation is what one owner (one attempt of one task) holds.
type Allocation struct {
	IDs  []int // core ids, ascending
	CPUs []int // the OS CPU ids to pin to, ascending and distinct; nil when unknown
}

// NewCores makes an allocator of n cores over the given OS CPU ids (the
// process's affinity set). cpus may be empty: allocations then carry no CPU
// ids and the runner does not pin.
func NewCores(n int, cpus []int) (*Cores, error) {
	if n < 1 {
		return nil, fmt.Errorf("core allocator: a node needs at least one core, got %d", n)
	}
	cs := slices.Clone(cpus)
	slices.Sort(cs)
	cs = slices.Compact(cs)
	if len(cs) > 0 && cs[0] < 0 {
		return nil, fmt.Errorf("core allocator: negative cpu id %d", cs[0])
	}
	return &Cores{cpus: cs, owner: make([]string, n), held: map[string][]int{}}, nil
}

// Alloc gives owner k cores: the lowest run of k contiguous free ids when
// there is one (neighbouring cores share caches), else the lowest k free
// ids. Asking again for the same owner and k returns what it holds (a
// repeated Assign is harmless); a different k for a holder is an error.
func (c *Cores) Alloc(owner string, k int) (Allocation, error) {
	if owner == "" {
		return Allocation{}, errors.New("core allocator: empty owner")
	}
	if k < 1 {
		return Allocation{}, fmt.Errorf("core allocator: %s asks for %d cores, at least 1 is needed", owner, k)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ids, ok := c.held[owner]; ok {
		if len(ids) != k {
			return Allocation{}, fmt.Errorf("core allocator: %s already holds %d cores, asked again for %d", owner, len(ids), k)
		}
		return c.allocation(ids), nil
	}
	free := c.freeLocked()
	if k > free {
		return Allocation{}, fmt.Errorf("%w: %s asks for %d, %d of %d are free", ErrNoCores, owner, k, free, len(c.owner))
	}
	ids := c.contiguous(k)
	if ids == nil {
		for i, o := range c.owner {
			if o == "" && len(ids) < k {
				ids = append(ids, i)
			}
		}
	}
	for _, i := range ids {
		c.owner[i] = owner
	}
	c.held[owner] = ids
	return c.allocation(ids), nil
}

// Release frees what owner holds and reports whether it held anything.
func (c *Cores) Release(owner string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids, ok := c.held[owner]
	if !ok {
		return false
	}
	for _, i := range ids {
		c.owner[i] = ""
	}
	delete(c.held, owner)
	return true
}

// Held returns what owner holds.
func (c *Cores) Held(owner string) (Allocation, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids, ok := c.held[owner]
	if !ok {
		return Allocation{}, false
	}
	return c.allocation(ids), true
}

// Free is the number of free cores.
func (c *Cores) Free() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.freeLocked()
}

// Total is the number of cores the node advertises.
func (c *Cores) Total() int { return len(c.owner) }

func (c *Cores) freeLocked() int {
	n := len(c.owner)
	for _, ids := range c.held {
		n -= len(ids)
	}
	return n
}

// contiguous returns the lowest run of k free ids, or nil.
func (c *Cores) contiguous(k int) []int {
	run := 0
	for i, o := range c.owner {
		if o != "" {
			run = 0
			continue
		}
		run++
		if run == k {
			ids := make([]int, k)
			for j := range ids {
				ids[j] = i - k + 1 + j
			}
			return ids
		}
	}
	return nil
}

func (c *Cores) allocation(ids []int) Allocation {
	a := Allocation{IDs: slices.Clone(ids)}
	if len(c.cpus) == 0 {
		return a
	}
	for _, i := range ids {
		a.CPUs = append(a.CPUs, c.cpus[i%len(c.cpus)])
	}
	slices.Sort(a.CPUs)
	a.CPUs = slices.Compact(a.CPUs)
	return a
}
