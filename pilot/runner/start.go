package runner

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// setupError is a failure to prepare the attempt (not the task's fault).
type setupError struct{ err error }

func (e *setupError) Error() string { return e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

// startPinned calls start (a fork) from the calling goroutine's OS
// thread, with the thread's affinity narrowed to cpus and its timer slack
// set to slack (0: unchanged) for the child to inherit (see the package
// doc for why this is race-free), then gives the thread its own mask and
// slack back.
// The goroutine stays locked to the thread that forked the child: the
// caller calls the returned unlock once the child has exited (Pdeathsig
// is tied to that thread, which must outlive the child). A thread whose
// mask or slack could not be restored stays locked for good and the
// runtime discards it when the goroutine exits, so a narrowed thread
// never runs other goroutines. Starting here, and not on a goroutine of
// its own, spares each task two hand-offs between threads.
func startPinned(cpus []int, slack time.Duration, start func() error) (unlock func(), err error) {
	runtime.LockOSThread()
	th, err := narrow(cpus, slack)
	if err != nil {
		err = &setupError{err}
	} else {
		err = start()
	}
	if !th.restore() {
		return func() {}, err
	}
	if err != nil {
		runtime.UnlockOSThread()
		return func() {}, err
	}
	return runtime.UnlockOSThread, nil
}

// thread is what narrow changed on the locked thread, to be put back.
type thread struct {
	mask   *unix.CPUSet // the mask to restore; nil: unknown
	pinned bool
	slack  int // the slack to restore, in ns; 0: unchanged
}

// narrow pins the calling (locked) thread to cpus and sets its timer slack.
func narrow(cpus []int, slack time.Duration) (thread, error) {
	var th thread
	if len(cpus) > 0 {
		var own unix.CPUSet
		if err := unix.SchedGetaffinity(0, &own); err == nil {
			th.mask = &own
		}
		if err := pin(cpus); err != nil {
			return th, err
		}
		th.pinned = true
	}
	if slack > 0 {
		cur, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
		if err != nil {
			return th, fmt.Errorf("read the timer slack: %w", err)
		}
		if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(slack.Nanoseconds()), 0, 0, 0); err != nil {
			return th, fmt.Errorf("set the timer slack to %v: %w", slack, err)
		}
		th.slack = cur
	}
	return th, nil
}

// restore gives the thread its own mask and slack back and says whether
// it could.
func (th thread) restore() bool {
	if th.pinned && (th.mask == nil || unix.SchedSetaffinity(0, th.mask) != nil) {
		return false
	}
	return th.slack <= 0 || unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(th.slack), 0, 0, 0) == nil
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
