package batch

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrNotInJob means the process does not run inside a Slurm job
// (SLURM_JOB_ID is not set).
var ErrNotInJob = errors.New("not inside a Slurm job: SLURM_JOB_ID is not set")

// Job is what a process inside an allocation learns from its environment.
type Job struct {
	ID        string
	Name      string
	Cluster   string
	Partition string
	SubmitDir string
	// Nodes is the expanded SLURM_JOB_NODELIST, in Slurm's order.
	Nodes []string
	// Node is this process's node (SLURMD_NODENAME); empty in the batch
	// shell of some versions, where Nodes[0] runs the script.
	Node string
	// CPUsOnNode is SLURM_CPUS_ON_NODE: the CPUs this job holds here.
	CPUsOnNode int
	// CPUsPerNode is the expanded SLURM_JOB_CPUS_PER_NODE, one per node.
	CPUsPerNode []int
	// MemPerNodeMB and MemPerCPUMB are the memory requests; 0 when the job
	// asked for none (then the node's memory is the limit).
	MemPerNodeMB int64
	MemPerCPUMB  int64
	// Restarts counts requeues (SLURM_RESTART_COUNT, 0 on the first run).
	Restarts int
	// End is SLURM_JOB_END_TIME when Slurm sets it (23.02 and later); zero
	// otherwise, and then Slurm.EndTime asks squeue.
	End time.Time
}

// MemOnNodeMB is the memory this job may use on its node, 0 if it asked for
// none.
func (j Job) MemOnNodeMB() int64 {
	if j.MemPerNodeMB > 0 {
		return j.MemPerNodeMB
	}
	return j.MemPerCPUMB * int64(j.CPUsOnNode)
}

// FromEnv reads the job from Slurm's variables through getenv (os.Getenv in
// production). A malformed variable is an error naming it.
func FromEnv(getenv func(string) string) (Job, error) {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := getenv(k); v != "" {
				return v
			}
		}
		return ""
	}
	j := Job{
		ID:        first("SLURM_JOB_ID", "SLURM_JOBID"),
		Name:      getenv("SLURM_JOB_NAME"),
		Cluster:   getenv("SLURM_CLUSTER_NAME"),
		Partition: getenv("SLURM_JOB_PARTITION"),
		SubmitDir: getenv("SLURM_SUBMIT_DIR"),
		Node:      getenv("SLURMD_NODENAME"),
	}
	if j.ID == "" {
		return Job{}, ErrNotInJob
	}
	bad := func(key string, err error) error {
		return fmt.Errorf("slurm job %s: environment variable %s=%q: %w", j.ID, key, clip(getenv(key)), err)
	}
	var err error
	nodelist := first("SLURM_JOB_NODELIST", "SLURM_NODELIST")
	if j.Nodes, err = ExpandHostlist(nodelist); err != nil {
		return Job{}, bad("SLURM_JOB_NODELIST", err)
	}
	ints := []struct {
		key string
		dst *int
	}{{"SLURM_CPUS_ON_NODE", &j.CPUsOnNode}, {"SLURM_RESTART_COUNT", &j.Restarts}}
	for _, f := range ints {
		if v := getenv(f.key); v != "" {
			if *f.dst, err = strconv.Atoi(v); err != nil || *f.dst < 0 {
				return Job{}, bad(f.key, errors.New("want a whole number"))
			}
		}
	}
	if v := getenv("SLURM_JOB_CPUS_PER_NODE"); v != "" {
		if j.CPUsPerNode, err = ParseCountList(v); err != nil {
			return Job{}, bad("SLURM_JOB_CPUS_PER_NODE", err)
		}
	}
	mems := []struct {
		key string
		dst *int64
	}{{"SLURM_MEM_PER_NODE", &j.MemPerNodeMB}, {"SLURM_MEM_PER_CPU", &j.MemPerCPUMB}}
	for _, f := range mems {
		if v := getenv(f.key); v != "" {
			if *f.dst, err = ParseMemMB(v); err != nil {
				return Job{}, bad(f.key, err)
			}
		}
	}
	if v := getenv("SLURM_JOB_END_TIME"); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs <= 0 {
			return Job{}, bad("SLURM_JOB_END_TIME", errors.New("want Unix seconds"))
		}
		j.End = time.Unix(secs, 0).UTC()
	}
	return j, nil
}

// ParseMemMB reads a Slurm memory size in megabytes: "1000", "1000M", "4G",
// "2T" (Slurm's own suffixes, powers of 1024).
func ParseMemMB(size string) (int64, error) {
	s, mult := size, int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		return 0, fmt.Errorf("memory %q: kilobytes are below Slurm's unit; want M, G or T", size)
	case strings.HasSuffix(s, "M"):
		s = s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mult, s = 1024, s[:len(s)-1]
	case strings.HasSuffix(s, "T"):
		mult, s = 1024*1024, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("memory %q: want megabytes, or a number with M, G or T", size)
	}
	return n * mult, nil
}
