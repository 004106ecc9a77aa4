// Package runner runs one attempt of one task on this node and says how it
// went. It is the part of the agent that touches processes; it knows nothing
// of the ledger, the network or the scratch cache's locking, and imports only
// the task format.
//
// Run starts the task's argv without a shell, in the given working directory
// (the task's scratch directory, kept across retries), with stdin = the
// task's input, the agent's environment plus the task's env and PILOT_TASK_ID,
// PILOT_ATTEMPT, PILOT_WORKDIR, PILOT_CORES and OMP_NUM_THREADS, in a process
// group of its own, pinned to the CPU ids the caller allocated. stdout and
// stderr end in files in the working directory (attempt-N.stdout and
// .stderr), only for a stream the task wrote to (a task that prints
// nothing costs no file and no inode): written straight to a spool file
// that becomes the log with a rename, linked there after a second so a
// long task can be followed (see Spools), or, without spools, through
// pipes to files created at their first byte; their tails come
// back in the Outcome with the CPU time and peak RSS from the kernel's
// rusage, and the value of $PILOT_WORKDIR/result.json when the task wrote one.
//
// Pinning is race-free: the goroutine that calls Run locks itself to its OS
// thread, sets that thread's affinity with sched_setaffinity (and its timer
// slack, when the agent's threads have another than the task should) and
// then forks; the child inherits both from its first instruction, before it
// execs the task, so no instruction of the task ever runs outside its CPUs.
// The thread gets its own mask and slack back as soon as the task runs, but
// the goroutine stays on it and waits for the child there, so Pdeathsig
// (SIGKILL to the task if the agent dies) is tied to a thread that lives at
// least as long as the task; then it returns to the runtime (one thread
// creation less per task). If the mask cannot be restored the goroutine
// stays locked and the runtime discards the thread when it exits, so a
// thread with a narrowed mask never runs other goroutines. No goroutine is
// started per task: a cancel or a timeout stops the task's group from a
// timer's goroutine while Run waits.
//
// Ending a task (its timeout_s, or ctx cancelled by a drain or a Cancel from
// the leader) sends SIGTERM to its whole process group, waits a grace period
// and then sends SIGKILL to the group. When the task's main process exits, any
// process still in its group gets SIGKILL before the main process is reaped
// (the kernel keeps the group id reserved until then, so the signal cannot
// reach a stranger), so no grandchild outlives its task. A grandchild that
// leaves the group with setsid escapes this; Slurm's job cgroup is the
// backstop for those.
//
// Every Outcome is classified: OK, a task failure (non-zero exit, a crash by
// signal, a hang past timeout_s, a missing executable, a bad result.json;
// these spend the task's retry budget) or an infra failure (the working
// directory or log files could not be made, the fork failed, the attempt was
// cancelled; these do not).
package runner
