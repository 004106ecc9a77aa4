package runner

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// Class says whose fault a failed attempt was, which decides whether it
// spends the task's retry budget.
type Class uint8

const (
	// OK: the task exited 0 and its result.json, if any, was valid.
	OK Class = iota
	// TaskFailed: the task itself failed; a retry spends its budget.
	TaskFailed
	// InfraFailed: the node or the cluster failed the task; a retry is free.
	InfraFailed
)

func (c Class) String() string {
	switch c {
	case OK:
		return "ok"
	case TaskFailed:
		return "task-failed"
	case InfraFailed:
		return "infra-failed"
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Reason is the stable code of why an attempt did not succeed. The values
// are a wire format: never renumber or rename them.
type Reason string

const (
	ReasonNone      Reason = ""
	ReasonExit      Reason = "exit"      // non-zero exit status
	ReasonSignal    Reason = "signal"    // killed by a signal it did not ask for
	ReasonTimeout   Reason = "timeout"   // ran past timeout_s
	ReasonExec      Reason = "exec"      // executable missing or not executable
	ReasonResult    Reason = "result"    // result.json too big or not JSON
	ReasonSetup     Reason = "setup"     // workdir, log files, affinity
	ReasonStart     Reason = "start"     // fork/exec failed for a system reason
	ReasonCancelled Reason = "cancelled" // ctx ended: drain or Cancel
)

// Outcome is what one attempt did. Fields the attempt never reached are zero.
type Outcome struct {
	Class  Class
	Reason Reason
	// Err says what went wrong in one line that names the task and what to
	// do; nil when Class is OK.
	Err error

	PID      int
	ExitCode int // -1 when the process was ended by a signal
	Signal   syscall.Signal
	Started  time.Time
	Ended    time.Time
	Wall     time.Duration
	CPUTime  time.Duration // user + system, of the task and its reaped descendants
	MaxRSSKB int64         // peak resident set of the largest process, in KiB
	CPUs     []int         // the CPU ids it was asked to be pinned to
	// Affinity is the CPU mask the kernel reported for the task's process
	// just after it started: evidence for overlap checks, independent of
	// what was asked. Nil if it could not be read.
	Affinity []int

	// StdoutPath and StderrPath are the log files; "" for a stream the
	// task wrote nothing to (no file is made for it).
	StdoutPath, StderrPath string
	StdoutTail, StderrTail string
	// Value is the content of result.json when the task wrote a valid one.
	Value json.RawMessage
}

// Result turns the outcome into the result record of a final attempt. The
// caller sets Attempts (the ledger's count), Node, Pilot and Cache.
func (o *Outcome) Result(spec task.Spec) task.Result {
	r := task.Result{
		ID:       spec.ID,
		State:    task.StateDone,
		ExitCode: o.ExitCode,
		RuntimeS: o.Wall.Seconds(),
		CoreS:    o.Wall.Seconds() * float64(max(spec.Cores, 1)),
		Value:    o.Value,
	}
	if o.Class != OK {
		r.State = task.StateFailed
		r.Error = o.Message()
	}
	return r
}

// Message is the error with the tail of stderr, the one line a user reads
// first when a task failed; "" when the attempt succeeded.
func (o *Outcome) Message() string {
	if o.Err == nil {
		return ""
	}
	msg := o.Err.Error()
	if tail := lastLines(o.StderrTail, 5); tail != "" {
		msg += "; stderr ends: " + tail
	}
	return msg
}

// logs says where the attempt's output is.
func (o *Outcome) logs() string {
	var in []string
	for _, p := range []string{o.StdoutPath, o.StderrPath} {
		if p != "" {
			in = append(in, p)
		}
	}
	if len(in) == 0 {
		return "it wrote nothing to stdout or stderr"
	}
	return "its output is in " + strings.Join(in, " and ")
}

func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
