package main

import "time"

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
// thread's needs CAP_SYS_NICE): the agent executes itself again in place
// with it unless it was started with it ('pilot local' starts its agents
// so); see internal/timerslack.
const agentTimerSlack = time.Millisecond
