package batch

import (
	"context"
	"errors"
	"time"
)

// Scheduler is a batch system as pilot needs it. Slurm implements it; PBS
// or LSF would too. Methods run the batch system's commands and block until
// they return or ctx ends; they are safe for concurrent use.
type Scheduler interface {
	// Submit queues a job and returns its id.
	Submit(ctx context.Context, req SubmitRequest) (string, error)
	// Status reports the given jobs in one call. A job the batch system
	// does not know is absent from the map (Tracker turns repeated absence
	// into Gone); an outage is an error, never an empty answer.
	Status(ctx context.Context, ids []string) (map[string]JobStatus, error)
	// List reports this user's jobs with the given name (a campaign's
	// pilots share one), including recently ended ones.
	List(ctx context.Context, name string) ([]JobStatus, error)
	// Cancel ends jobs. Cancelling a job that already ended is not an error.
	Cancel(ctx context.Context, ids ...string) error
	// EndTime is when the job's allocation ends (its start plus its limit,
	// or what an administrator changed it to). ErrNoEndTime when the job
	// has none (no limit) or it is not known yet (still waiting).
	EndTime(ctx context.Context, id string) (time.Time, error)
}

// SubmitRequest is one pilot job. Zero fields are left to the batch script's
// own directives and the site's defaults.
type SubmitRequest struct {
	Script string   // path of the batch script (scripts/sbatch/pilot.sh)
	Args   []string // its arguments
	Name   string   // job name; a campaign's pilots share one
	Dir    string   // working directory of the job (--chdir)
	Output string   // log path (-o); Slurm's %j is the job id

	Nodes     int
	Walltime  time.Duration
	Partition string
	Account   string
	QOS       string
	// SignalBefore asks for SIGUSR1 to the batch shell this long before
	// the walltime (--signal=B:USR1@secs), so the agents drain.
	SignalBefore time.Duration
	// Env is set in the job's environment on top of the submitter's.
	Env map[string]string
	// Extra is passed to the submit command as is (site-specific flags).
	Extra []string
}

// ErrNoEndTime means a job has no end time to report: it has no time limit,
// or it has not started and the batch system has no estimate.
var ErrNoEndTime = errors.New("the job has no end time")

// ErrUnknownJob means the batch system answered that it does not know the
// job id (it never existed, or ended and was purged).
var ErrUnknownJob = errors.New("the batch system does not know this job")

// AllocationEnd is when the job j (read from the environment) ends: its
// SLURM_JOB_END_TIME where Slurm sets it, else what s says. An agent
// should call it again now and then, since an administrator may change
// the limit and Slurm may enforce it up to 30 s late.
func AllocationEnd(ctx context.Context, s Scheduler, j Job) (time.Time, error) {
	if !j.End.IsZero() {
		return j.End, nil
	}
	return s.EndTime(ctx, j.ID)
}
