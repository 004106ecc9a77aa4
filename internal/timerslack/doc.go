// Package timerslack gives every thread of a process a timer slack (how
// late the kernel may wake a sleeping thread, to batch wake-ups): the
// agent's threads sleep with a millisecond of it instead of the kernel's
// 50 µs (see cmd/pilot's agent for why).
//
// A thread can set only its own slack, and new threads and child processes
// take their creator's. A process gets it on every thread, the Go
// runtime's first ones too, only by starting with it: Ensure executes the
// program again in place with it, and Start starts a child with it so the
// child need not. Either way the variable PILOT_TIMER_SLACK_WAS carries the
// slack the program would have had, for its tasks.
package timerslack
