package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Run runs one attempt and blocks until the task's process is gone. It
// never panics on a task's behaviour and always returns a classified
// Outcome. Ending ctx ends the attempt: SIGTERM to the task's process group,
// Request.Grace, then SIGKILL; the Outcome is then InfraFailed/cancelled.
// Run is safe to call from many goroutines at once, one per task.
func Run(ctx context.Context, r Request) Outcome {
	o := Outcome{ExitCode: -1, CPUs: r.CPUs}
	fail := func(c Class, why Reason, format string, a ...any) Outcome {
		o.Class, o.Reason = c, why
		o.Err = fmt.Errorf("task %s attempt %d: %s", r.Spec.ID, r.Attempt, fmt.Sprintf(format, a...))
		return o
	}
	if err := r.check(); err != nil {
		return fail(TaskFailed, ReasonExec, "%v", err)
	}
	if !r.Fresh {
		if err := os.MkdirAll(r.Workdir, 0o755); err != nil {
			return fail(InfraFailed, ReasonSetup, "working directory: %v", err)
		}
		if err := removeFile(filepath.Join(r.Workdir, ResultFile)); err != nil {
			return fail(InfraFailed, ReasonSetup, "removing an earlier attempt's %s: %v", ResultFile, err)
		}
	}
	stdout, stderr, err := logFiles(&r)
	if err != nil {
		return fail(InfraFailed, ReasonSetup, "log files: %v", err)
	}
	defer stdout.Close()
	defer stderr.Close()
	env := environ(&r)
	path, err := lookPath(r.Spec.Cmd[0], r.Workdir, env)
	if err != nil {
		return fail(TaskFailed, ReasonExec, "%v", err)
	}
	var p proc
	started := false
	defer func() {
		if !started { // the pipes of a task that never ran
			p.finish(0)
		}
	}()
	spooled := spoolStreams(r.Spools, stdout, stderr)
	if spooled != nil {
		p.fds[1], p.fds[2] = uintptr(spooled[0].w), uintptr(spooled[1].w)
		defer func() {
			if spooled != nil { // not settled: the task never ran
				r.Spools.giveBack(spooled)
			}
		}()
	} else if err := errors.Join(p.drain(1, stdout), p.drain(2, stderr)); err != nil {
		return fail(InfraFailed, ReasonSetup, "stdout and stderr pipes: %v", err)
	}
	if r.Spec.Input != "" {
		err = p.feed(r.Spec.Input)
	} else {
		var null *os.File
		if null, err = devNull(); err == nil {
			p.fds[0] = null.Fd()
		}
	}
	if err != nil {
		return fail(InfraFailed, ReasonSetup, "stdin: %v", err)
	}

	if err := ctx.Err(); err != nil {
		return fail(InfraFailed, ReasonCancelled, "cancelled before it started: %v", context.Cause(ctx))
	}
	var pid int
	unlock, err := startPinned(r.CPUs, r.TimerSlack, func() (err error) {
		pid, err = p.start(path, r.Spec.Cmd, env, r.Workdir)
		return err
	})
	if err != nil {
		var se *setupError
		switch {
		case errors.As(err, &se):
			return fail(InfraFailed, ReasonSetup, "%v", err)
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.ENOEXEC), errors.Is(err, syscall.E2BIG):
			return fail(TaskFailed, ReasonExec, "cannot execute %s: %v", r.Spec.Cmd[0], err)
		default:
			return fail(InfraFailed, ReasonStart, "starting %s: %v", r.Spec.Cmd[0], err)
		}
	}
	started = true
	o.PID = pid
	o.Started = time.Now()
	if spooled != nil {
		closeWriters(spooled)
		show := time.AfterFunc(showAfter, func() {
			for _, t := range spooled {
				t.show()
			}
		})
		defer show.Stop()
	}
	// The process cannot be reaped before reap below, so its mask is
	// readable even if it has already exited.
	o.Affinity, _ = affinity(o.PID)
	if r.OnStart != nil {
		r.OnStart(o.PID)
	}

	// Ending ctx or the timeout stops the task's group from another
	// goroutine; this one waits for its main process to exit.
	stop := &groupStop{pgid: o.PID, grace: r.grace()}
	stopOnCancel := context.AfterFunc(ctx, func() { stop.begin(ReasonCancelled) })
	if d := r.timeout(); d > 0 {
		t := time.AfterFunc(d, func() { stop.begin(ReasonTimeout) })
		defer t.Stop()
	}
	waitExited(o.PID)
	unlock()
	stopOnCancel()
	ended := stop.exited()
	// The main process is a zombie now, so its pid (the group id) cannot be
	// reused: sweep whatever it left running in its group, then reap it.
	_ = syscall.Kill(-o.PID, syscall.SIGKILL)
	ws, ru, waitErr := reap(o.PID)
	p.finish(r.grace())
	o.Ended = time.Now()
	o.Wall = o.Ended.Sub(o.Started)
	o.StdoutPath, o.StderrPath = stdout.Path(), stderr.Path()
	if spooled != nil {
		var errOut, errErr error
		o.StdoutPath, errOut = r.Spools.settle(spooled[0])
		o.StderrPath, errErr = r.Spools.settle(spooled[1])
		spooled = nil // settled
		if err := errors.Join(errOut, errErr); err != nil {
			return fail(InfraFailed, ReasonSetup, "log files: %v", err)
		}
	}
	o.StdoutTail = tail(o.StdoutPath, r.tailBytes())
	o.StderrTail = tail(o.StderrPath, r.tailBytes())
	for _, f := range []*lazyFile{stdout, stderr} {
		if err := f.Close(); err != nil {
			return fail(InfraFailed, ReasonSetup, "log file %s: %v", f.path, err)
		}
	}
	if waitErr != nil {
		return fail(InfraFailed, ReasonStart, "waiting for pid %d: %v", o.PID, waitErr)
	}
	o.ExitCode = ws.ExitStatus() // -1 when a signal ended it
	o.CPUTime = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	o.MaxRSSKB = ru.Maxrss
	if ws.Signaled() {
		o.Signal = ws.Signal()
	}

	switch {
	case ended == ReasonCancelled:
		return fail(InfraFailed, ReasonCancelled, "cancelled after %s (drain or cancel); it will be retried without spending an attempt", o.Wall.Round(time.Millisecond))
	case ended == ReasonTimeout:
		return fail(TaskFailed, ReasonTimeout, "ran past its timeout_s of %gs and was stopped (SIGTERM, then SIGKILL after %s)", r.Spec.TimeoutS, r.grace())
	case ws.Signaled():
		core := ""
		if ws.CoreDump() {
			core = " (core dumped)"
		}
		return fail(TaskFailed, ReasonSignal, "crashed: killed by signal %d (%v)%s", int(o.Signal), o.Signal, core)
	case o.ExitCode != 0:
		return fail(TaskFailed, ReasonExit, "exited with status %d; %s", o.ExitCode, o.logs())
	}
	v, err := readValue(r.Workdir)
	if err != nil {
		return fail(TaskFailed, ReasonResult, "%v", err)
	}
	o.Value = v
	o.Class, o.Reason = OK, ReasonNone
	return o
}
