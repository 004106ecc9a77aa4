package runner

import (
	"fmt"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// Defaults for the Request fields a caller may leave zero.
const (
	DefaultGrace     = 10 * time.Second
	DefaultTailBytes = 4 << 10
)

// ResultFile is the file in the working directory whose content becomes the
// result's value. It is removed before each attempt so a value left by an
// earlier, failed attempt is never taken for this one's.
const ResultFile = "result.json"

// Request is one attempt of one task.
type Request struct {
	Spec    task.Spec
	Attempt int
	// Workdir is the task's working directory; created if missing.
	Workdir string
	// Fresh says Workdir exists, is empty and no attempt ran in it, so
	// nothing of an earlier run needs clearing (a scratch cache entry the
	// attempt created).
	Fresh bool
	// CPUs are the OS CPU ids to pin the task to (its allocation from the
	// node's core allocator). Empty: no pinning.
	CPUs []int
	// Env is the base environment, each name once (see LastOfEach); nil
	// means the agent's own (os.Environ), so a task sees the modules and
	// paths its pilot was started with.
	Env []string
	// Extra are NAME=value pairs set over Env (the scratch cache's paths).
	Extra []string
	// Grace is the time between SIGTERM and SIGKILL; 0 means DefaultGrace.
	Grace time.Duration
	// TimerSlack is the timer slack the task's process starts with; 0
	// leaves it the agent's.
	TimerSlack time.Duration
	// TailBytes bounds the stdout and stderr tails kept in the Outcome; 0
	// means DefaultTailBytes.
	TailBytes int
	// OnStart, if set, is called once the task's process runs (for the
	// agent's Started report). It must not block.
	OnStart func(pid int)
	// Spools, if set, gives the task files for stdout and stderr instead
	// of pipes (see Spools); its directory must be on Workdir's
	// filesystem.
	Spools *Spools
}

func (r *Request) check() error {
	if len(r.Spec.Cmd) == 0 || r.Spec.Cmd[0] == "" {
		if r.Spec.Fn != "" {
			return fmt.Errorf("task %s: fn %q must be resolved to a cmd by the site config before it runs", r.Spec.ID, r.Spec.Fn)
		}
		return fmt.Errorf("task %s: no cmd to run", r.Spec.ID)
	}
	if r.Workdir == "" {
		return fmt.Errorf("task %s: no working directory given", r.Spec.ID)
	}
	return nil
}

func (r *Request) grace() time.Duration {
	if r.Grace > 0 {
		return r.Grace
	}
	return DefaultGrace
}

func (r *Request) tailBytes() int {
	if r.TailBytes > 0 {
		return r.TailBytes
	}
	return DefaultTailBytes
}

func (r *Request) timeout() time.Duration {
	return time.Duration(r.Spec.TimeoutS * float64(time.Second))
}
