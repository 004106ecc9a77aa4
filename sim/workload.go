package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// Job is one simulated task: what the user submits and how long it really
// runs on its cores.
type Job struct {
	Spec task.Spec
	True time.Duration
}

// The built-in workloads.
const (
	WorkloadNMR   = "nmr"
	WorkloadMixed = "mixed"
)

// Workload builds the jobs of a run: a built-in workload by name, or the
// JSONL file at path cfg.WorkloadFile.
func Workload(cfg Config) ([]Job, error) {
	if cfg.WorkloadFile != "" {
		return ReadWorkload(cfg.WorkloadFile)
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x776f726b6c6f6164)) // "workload"
	switch cfg.Workload {
	case WorkloadNMR:
		return nmr(rng, cfg), nil
	case WorkloadMixed:
		return mixed(rng, cfg), nil
	}
	return nil, fmt.Errorf("sim: unknown workload %q: use %q, %q or a JSONL file", cfg.Workload, WorkloadNMR, WorkloadMixed)
}

// nmr is the seed's campaign: chemical-shift calculations of 10-60
// core-hours each, run on one whole node (0.18-1.1 h on 56 cores), whose
// estimates are off by up to ±30%.
func nmr(rng *rand.Rand, cfg Config) []Job {
	jobs := make([]Job, cfg.Tasks)
	for i := range jobs {
		coreHours := 10 + 50*rng.Float64()
		run := seconds(coreHours * 3600 / float64(cfg.Cores))
		jobs[i] = Job{
			Spec: task.Spec{
				ID: jobID(i), Fn: "nmr-shift", Args: []string{fmt.Sprintf("mol-%d", i)},
				Cores: cfg.Cores, MemMB: cfg.MemMB / 2,
				EstS: math.Round(run.Seconds() * (0.7 + 0.6*rng.Float64())),
			},
			True: run,
		}
	}
	return jobs
}

// mixedFunctions is the number of distinct functions in the mixed
// workload; each has its own width and typical runtime.
const mixedFunctions = 40

// mixed is a heavy-tailed mix: functions of 1 to Cores cores (half of them
// one core, the rest log-uniform), runtimes log-uniform from 1 min to 2 h
// around each function's typical one (±30%), and 20% of tasks without an
// estimate, which the scheduler learns per function.
func mixed(rng *rand.Rand, cfg Config) []Job {
	type fn struct {
		cores   int
		typical float64 // seconds
	}
	fns := make([]fn, mixedFunctions)
	for i := range fns {
		c := 1
		if rng.IntN(2) == 0 {
			c = int(math.Exp(rng.Float64() * math.Log(float64(cfg.Cores))))
		}
		const lo, hi = 60 / 0.7, 7200 / 1.3 // so that typical*(0.7..1.3) stays in 1 min..2 h
		fns[i] = fn{cores: max(1, min(c, cfg.Cores)), typical: lo * math.Exp(rng.Float64()*math.Log(hi/lo))}
	}
	jobs := make([]Job, cfg.Tasks)
	for i := range jobs {
		k := rng.IntN(len(fns))
		f := fns[k]
		run := seconds(f.typical * (0.7 + 0.6*rng.Float64()))
		est := math.Round(run.Seconds() * (0.7 + 0.6*rng.Float64()))
		if rng.IntN(5) == 0 {
			est = 0
		}
		jobs[i] = Job{
			Spec: task.Spec{
				ID: jobID(i), Fn: fmt.Sprintf("fn-%02d", k),
				Cores: f.cores, MemMB: int64(f.cores) * cfg.MemMB / int64(2*cfg.Cores),
				EstS: est,
			},
			True: run,
		}
	}
	return jobs
}

func jobID(i int) string { return fmt.Sprintf("t%06d", i) }

// seconds converts seconds to a Duration, clamped to ±100 years so a huge
// estimate cannot overflow.
func seconds(s float64) time.Duration {
	const limit = 100 * 365 * 24 * 3600
	return time.Duration(math.Round(max(-limit, min(s, limit)) * 1e9))
}

// maxTrueS is the longest true runtime a workload file may give: a year.
const maxTrueS = 365 * 24 * 3600

// fileJob is one line of a workload file: a task as users submit it, plus
// its true runtime.
type fileJob struct {
	task.Spec
	TrueS float64 `json:"true_s"`
}

// ReadWorkload reads a JSONL workload: one task per line in the task
// format, with "true_s", the runtime the simulated task really takes.
// Empty lines are skipped; any other bad line is an error that names it.
func ReadWorkload(path string) ([]Job, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sim: workload: %w", err)
	}
	defer f.Close()
	var jobs []Job
	r := bufio.NewReader(f)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			j, perr := parseJob(b)
			if perr != nil {
				return nil, fmt.Errorf("sim: workload %s line %d: %w", path, line, perr)
			}
			jobs = append(jobs, j)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("sim: workload %s line %d: %w", path, line, err)
		}
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("sim: workload %s holds no task", path)
	}
	return jobs, nil
}

func parseJob(b []byte) (Job, error) {
	var fj fileJob
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fj); err != nil {
		return Job{}, fmt.Errorf("%w (a line is a task object plus \"true_s\")", err)
	}
	if err := fj.Spec.Validate(); err != nil {
		return Job{}, err
	}
	if !(fj.TrueS > 0 && fj.TrueS <= maxTrueS) {
		return Job{}, fmt.Errorf("field \"true_s\": the task's true runtime in seconds must be positive and at most %g, got %g", float64(maxTrueS), fj.TrueS)
	}
	fj.Spec.ApplyDefaults()
	return Job{Spec: fj.Spec, True: seconds(fj.TrueS)}, nil
}
