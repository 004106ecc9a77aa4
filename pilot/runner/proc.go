package runner

import (
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// proc starts a task's process with syscall.ForkExec and reaps it with
// wait4. os/exec's Cmd over os.StartProcess costs ~40 µs of CPU a task
// more (BenchmarkExecTrue beside BenchmarkForkExecTrue; the agent's own
// CPU per task of `true` fell by 18 µs, 7%): an os.Process with a pidfd
// and a cleanup, an os.File per descriptor, a check of each descriptor's
// flags. What a Cmd does beyond the fork is here: stdin fed from the
// task's input through a pipe, stdout and stderr copied through pipes to
// their writers when they are not files of their own, and those pipes
// closed once the task is gone plus a grace, so a grandchild that keeps
// one open cannot hold the attempt.
type proc struct {
	// fds are the task's stdin, stdout and stderr, as the child gets them.
	fds [3]uintptr
	// child holds the pipe ends the child gets, closed here once it has
	// them; ours are the ends the copies use.
	child, ours []*os.File
	copies      sync.WaitGroup
}

// feed gives the task input on its stdin, written by a goroutine.
func (p *proc) feed(input string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	p.fds[0] = r.Fd()
	p.child, p.ours = append(p.child, r), append(p.ours, w)
	p.copies.Go(func() {
		_, _ = io.WriteString(w, input) // a task that stops reading gets EPIPE here
		w.Close()
	})
	return nil
}

// drain gives the task stream (1 stdout, 2 stderr) a pipe whose bytes a
// goroutine copies to dst.
func (p *proc) drain(stream int, dst io.ReaderFrom) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	p.fds[stream] = w.Fd()
	p.child, p.ours = append(p.child, w), append(p.ours, r)
	p.copies.Go(func() { _, _ = dst.ReadFrom(r) })
	return nil
}

// start forks and execs the task in its own process group, with SIGKILL
// should the thread that forks it end, and closes the child's ends of the
// pipes here. An error is the exec's (ENOENT, EACCES, ...) or the fork's.
func (p *proc) start(path string, argv, env []string, dir string) (pid int, err error) {
	pid, err = syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: p.fds[:],
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	for _, f := range p.child {
		f.Close()
	}
	return pid, err
}

// reap waits for the exited process pid and returns its status and usage.
func reap(pid int) (syscall.WaitStatus, syscall.Rusage, error) {
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	for {
		_, err := syscall.Wait4(pid, &ws, 0, &ru)
		if !errors.Is(err, syscall.EINTR) {
			return ws, ru, err
		}
	}
}

// finish waits for the copies once the task's processes are gone (or
// never started), up to grace: then it closes the pipes under them (a
// process that left the task's group still holds them) and they end.
func (p *proc) finish(grace time.Duration) {
	if len(p.ours) == 0 {
		return
	}
	for _, f := range p.child { // closed by start, unless it never ran
		f.Close()
	}
	done := make(chan struct{})
	go func() {
		p.copies.Wait()
		close(done)
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	for _, f := range p.ours {
		f.Close()
	}
	<-done
}
