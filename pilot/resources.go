package pilot

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"
	"golang.org/x/sys/unix"
)

// Resources is what this node offers to tasks.
type Resources struct {
	Cores int   // the cores it advertises to the scheduler
	MemMB int64 // the memory it advertises, in MiB
	// CPUs are the OS CPU ids this process may run on (its affinity set,
	// as Slurm or a cgroup narrowed it). The core allocator maps core ids
	// onto them.
	CPUs []int
	// From says where Cores and MemMB came from, for the agent's startup
	// log line: "host", "slurm" or "override" for each.
	CoresFrom, MemFrom string
}

// ResourceOverrides are explicit values (site config, flags, or 'pilot
// local' giving each agent its share); zero fields are not overridden.
type ResourceOverrides struct {
	Cores int
	MemMB int64
	CPUs  []int
}

// DetectResources finds this node's resources: the host's logical CPU
// count (capped by the process's affinity set) and total memory from
// gopsutil, then Slurm's SLURM_CPUS_ON_NODE and SLURM_MEM_PER_NODE (or
// SLURM_MEM_PER_CPU × cores), then the overrides.
func DetectResources(ctx context.Context, ov ResourceOverrides) (Resources, error) {
	var p hostProbe
	var err error
	if p.logical, err = cpu.CountsWithContext(ctx, true); err != nil {
		return Resources{}, fmt.Errorf("counting CPUs: %w", err)
	}
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return Resources{}, fmt.Errorf("reading total memory: %w", err)
	}
	p.memMB = int64(vm.Total >> 20)
	if p.cpus, err = AffinityCPUs(); err != nil {
		return Resources{}, err
	}
	return resolveResources(p, os.Getenv, ov)
}

// AffinityCPUs returns the OS CPU ids this process may run on
// (sched_getaffinity), ascending.
func AffinityCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var cpus []int
	for i := 0; i < len(set)*64 && len(cpus) < set.Count(); i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus, nil
}

// hostProbe is what the host said, before Slurm and overrides.
type hostProbe struct {
	logical int
	memMB   int64
	cpus    []int
}

func resolveResources(p hostProbe, getenv func(string) string, ov ResourceOverrides) (Resources, error) {
	r := Resources{Cores: p.logical, MemMB: p.memMB, CPUs: p.cpus, CoresFrom: "host", MemFrom: "host"}
	if len(p.cpus) > 0 && len(p.cpus) < r.Cores {
		r.Cores = len(p.cpus)
	}
	if v := getenv("SLURM_CPUS_ON_NODE"); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return Resources{}, fmt.Errorf("environment variable SLURM_CPUS_ON_NODE=%q is not a positive integer; unset it or fix the job script", v)
		}
		r.Cores, r.CoresFrom = n, "slurm"
	}
	if len(ov.CPUs) > 0 {
		r.CPUs = ov.CPUs
	}
	if ov.Cores < 0 || ov.MemMB < 0 {
		return Resources{}, fmt.Errorf("resource overrides must not be negative (cores %d, mem_mb %d)", ov.Cores, ov.MemMB)
	}
	if ov.Cores > 0 {
		r.Cores, r.CoresFrom = ov.Cores, "override"
	}
	switch perNode, perCPU := getenv("SLURM_MEM_PER_NODE"), getenv("SLURM_MEM_PER_CPU"); {
	case perNode != "":
		mb, err := parseMemMB(perNode)
		if err != nil {
			return Resources{}, fmt.Errorf("environment variable SLURM_MEM_PER_NODE=%q: %v", perNode, err)
		}
		r.MemMB, r.MemFrom = mb, "slurm"
	case perCPU != "":
		mb, err := parseMemMB(perCPU)
		if err != nil {
			return Resources{}, fmt.Errorf("environment variable SLURM_MEM_PER_CPU=%q: %v", perCPU, err)
		}
		r.MemMB, r.MemFrom = mb*int64(r.Cores), "slurm"
	}
	if ov.MemMB > 0 {
		r.MemMB, r.MemFrom = ov.MemMB, "override"
	}
	if r.Cores < 1 {
		return Resources{}, fmt.Errorf("this node offers no cores (host %d, affinity %v); set the cores override", p.logical, p.cpus)
	}
	return r, nil
}

// parseMemMB reads a Slurm memory size: MiB by default, or with a K, M, G
// or T suffix as --mem takes it. Slurm's "0" (all the node's memory) is
// refused so the host's figure is never silently replaced by nothing.
func parseMemMB(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	div := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K':
			div, s = 1024, s[:n-1]
		case 'M':
			s = s[:n-1]
		case 'G':
			mult, s = 1024, s[:n-1]
		case 'T':
			mult, s = 1024*1024, s[:n-1]
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("not a positive memory size in MiB (or with a K/M/G/T suffix)")
	}
	return v * mult / div, nil
}
