package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// An agent's threads sleep with a timer slack of agentTimerSlack instead
// of the kernel's 50 µs. The Go runtime's monitor thread (sysmon) sleeps
// 20 µs between rounds for as long as it keeps taking processors back from
// threads blocked in system calls, and an agent has one such thread per
// running task (waiting for its exit). On a node whose every core runs a
// task, a run that fell into that mode stayed in it: the monitor switched
// 7,000-10,000 times in its first 2 s (~300 otherwise), preempting tasks,
// and the run's context switches doubled (bench-peers' noop on two cores:
// 0.70-0.80 of xargs's rate in that mode, 0.80-0.89 outside it; see
// bench/peers/RESULTS.md). With 1 ms of slack it wakes at most about
// a thousand times a second. The agent's own timers are of seconds; a
// millisecond late costs nothing. Tasks run with the slack the agent was
// started with (runner.Request.TimerSlack).
//
// The monitor thread is the runtime's first, made before any of the
// program's code runs, and a thread can set only its own slack (another
// thread's needs CAP_SYS_NICE); new threads take their creator's. So the
// agent sets the slack of the thread it runs on and executes itself again
// in place (same pid, arguments and environment): every thread of the new
// image starts with it.
const agentTimerSlack = time.Millisecond

// slackWasEnv carries the slack the agent was started with across its
// re-execution; it also marks the second image, which never re-executes.
const slackWasEnv = "PILOT_TIMER_SLACK_WAS"

// withTimerSlack makes every thread of this process sleep with slack d,
// re-executing the program if it must (it does not return then). It
// returns the slack the process was started with, for its tasks: 0 when
// that is d already or nothing was changed. d 0 changes nothing.
func withTimerSlack(d time.Duration) (was time.Duration, err error) {
	if v, ok := os.LookupEnv(slackWasEnv); ok {
		os.Unsetenv(slackWasEnv) // not for the tasks
		ns, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ns <= 0 {
			return 0, fmt.Errorf("%s=%q: want the slack in nanoseconds", slackWasEnv, v)
		}
		return time.Duration(ns), nil
	}
	if d <= 0 {
		return 0, nil
	}
	runtime.LockOSThread() // the slack is the calling thread's: set it and exec on one thread
	defer runtime.UnlockOSThread()
	cur, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		return 0, fmt.Errorf("read the timer slack: %w", err)
	}
	if time.Duration(cur) == d {
		return 0, nil
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(d.Nanoseconds()), 0, 0, 0); err != nil {
		return 0, fmt.Errorf("set the timer slack to %v: %w", d, err)
	}
	// The program's own path, not /proc/self/exe, which would name the
	// process "exe" (top, pgrep).
	exe, err := os.Executable()
	if err == nil {
		env := append(os.Environ(), slackWasEnv+"="+strconv.Itoa(cur))
		err = syscall.Exec(exe, os.Args, env)
	}
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(cur), 0, 0, 0)
	return 0, fmt.Errorf("execute the agent again with timer slack %v: %w", d, err)
}
