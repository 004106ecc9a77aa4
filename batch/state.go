package batch

// JobState is a job's state in the batch system's own words (Slurm's long
// names), plus Gone for a job the batch system no longer knows.
type JobState string

// The states pilot acts on. Any other state Slurm reports is kept verbatim
// and treated as active, so a new Slurm state never ends a pilot by mistake.
const (
	Pending     JobState = "PENDING"
	Configuring JobState = "CONFIGURING"
	Running     JobState = "RUNNING"
	Suspended   JobState = "SUSPENDED"
	Completing  JobState = "COMPLETING"
	Requeued    JobState = "REQUEUED"
	Completed   JobState = "COMPLETED"
	Cancelled   JobState = "CANCELLED"
	Failed      JobState = "FAILED"
	Timeout     JobState = "TIMEOUT"
	NodeFail    JobState = "NODE_FAIL"
	Preempted   JobState = "PREEMPTED"
	BootFail    JobState = "BOOT_FAIL"
	Deadline    JobState = "DEADLINE"
	OutOfMemory JobState = "OUT_OF_MEMORY"
	// Gone is pilot's own: the batch system kept answering that it does not
	// know the job (purged after it ended, or never existed). Terminal.
	Gone JobState = "GONE"
)

// Terminal reports whether the job has ended for good: it holds no nodes
// and will not run again.
func (s JobState) Terminal() bool {
	switch s {
	case Completed, Cancelled, Failed, Timeout, NodeFail, Preempted, BootFail, Deadline, OutOfMemory, Gone:
		return true
	}
	return false
}

// Queued reports whether the job waits for its allocation (it will run
// later): pending, requeued, or being configured.
func (s JobState) Queued() bool {
	return s == Pending || s == Requeued || s == Configuring
}
