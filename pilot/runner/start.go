package runner

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// setupError is a failure to prepare the attempt (not the task's fault).
type setupError struct{ err error }

func (e *setupError) Error() string { return e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

// startPinned starts cmd on a goroutine locked to a fresh OS thread whose
// affinity is cpus (see the package doc for why this is race-free). started
// receives Start's error; exited is closed once the process has exited but
// before it is reaped, so its pid stays reserved until cmd.Wait.
func startPinned(cmd *exec.Cmd, cpus []int) (started chan error, exited chan struct{}) {
	started = make(chan error, 1)
	exited = make(chan struct{})
	go func() {
		// Never unlocked: the runtime ends this thread with the goroutine,
		// so a thread with a narrowed mask never runs other goroutines.
		runtime.LockOSThread()
		if len(cpus) > 0 {
			if err := pin(cpus); err != nil {
				started <- &setupError{err}
				return
			}
		}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		waitExited(cmd.Process.Pid)
		close(exited)
	}()
	return started, exited
}

// pin sets the calling thread's CPU affinity.
func pin(cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		if c < 0 || c >= len(set)*64 {
			return fmt.Errorf("cpu id %d is out of range", c)
		}
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_setaffinity to cpus %v: %w (are they in this process's allowed set?)", cpus, err)
	}
	return nil
}

// affinity reads the CPU mask the kernel holds for pid (a live process or
// one not yet reaped), as evidence of where the task ran.
func affinity(pid int) ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &set); err != nil {
		return nil, err
	}
	var cpus []int
	for i := 0; i < len(set)*64 && len(cpus) < set.Count(); i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus, nil
}

// waitExited blocks until pid has exited, without reaping it.
func waitExited(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}
