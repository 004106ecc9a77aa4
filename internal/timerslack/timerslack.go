package timerslack

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// WasEnv carries the slack a process would have had into the process
// that started with another one (by Ensure's re-execution or by Start);
// Ensure removes it from the environment (it is not for the tasks).
const WasEnv = "PILOT_TIMER_SLACK_WAS"

// Ensure makes every thread of this process sleep with slack d (d <= 0:
// the slack the program was started with, or would have been without
// Start), executing the program again in place if its threads have
// another (it does not return then). It returns the slack the program
// would have had, for its tasks: 0 when that is the one it has.
func Ensure(d time.Duration) (was time.Duration, err error) {
	runtime.LockOSThread() // the slack is the calling thread's: read it, set it and exec on one thread
	defer runtime.UnlockOSThread()
	cur, err := current()
	if err != nil {
		return 0, err
	}
	orig := cur
	if v, ok := os.LookupEnv(WasEnv); ok {
		os.Unsetenv(WasEnv)
		ns, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ns <= 0 {
			return 0, fmt.Errorf("%s=%q: want the slack in nanoseconds", WasEnv, v)
		}
		orig = time.Duration(ns)
	}
	if d <= 0 {
		d = orig
	}
	if cur == d {
		if orig == d {
			return 0, nil
		}
		return orig, nil
	}
	if err := set(d); err != nil {
		return 0, err
	}
	// The program's own path, not /proc/self/exe, which would name the
	// process "exe" (top, pgrep).
	exe, err := os.Executable()
	if err == nil {
		env := append(os.Environ(), WasEnv+"="+strconv.FormatInt(orig.Nanoseconds(), 10))
		err = syscall.Exec(exe, os.Args, env)
	}
	_ = set(cur)
	return 0, fmt.Errorf("execute the program again with timer slack %v: %w", d, err)
}

// Start starts cmd with timer slack d on every thread (d <= 0: this
// thread's), telling it the slack it would have had in WasEnv, so that its
// Ensure(d) need not execute it again. Where the slack cannot be set the
// command starts without it.
func Start(cmd *exec.Cmd, d time.Duration) error {
	if d <= 0 {
		return cmd.Start()
	}
	runtime.LockOSThread() // the child is forked from this thread and takes its slack
	defer runtime.UnlockOSThread()
	cur, err := current()
	if err != nil || (cur != d && set(d) != nil) {
		return cmd.Start()
	}
	defer set(cur)
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env[:len(env):len(env)], WasEnv+"="+strconv.FormatInt(cur.Nanoseconds(), 10))
	return cmd.Start()
}

// current is the calling thread's timer slack.
func current() (time.Duration, error) {
	ns, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		return 0, fmt.Errorf("read the timer slack: %w", err)
	}
	return time.Duration(ns), nil
}

// set sets the calling thread's timer slack.
func set(d time.Duration) error {
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(d.Nanoseconds()), 0, 0, 0); err != nil {
		return fmt.Errorf("set the timer slack to %v: %w", d, err)
	}
	return nil
}
