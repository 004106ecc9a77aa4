package site

import (
	"path/filepath"

	"github.com/pilot-hpc/pilot/batch"
)

// JobName is the name every pilot of this site's campaign gets, so that
// batch.Scheduler.List finds them.
func (c *Config) JobName() string { return "pilot-" + c.Name }

// LogDir is where pilot jobs write their logs (state_dir/logs); whoever
// submits creates it.
func (c *Config) LogDir() string { return filepath.Join(c.StateDir, "logs") }

// SubmitRequest is one pilot job of this site: script is pilot.sh, queue
// the upstream ("" for the one in the config). The job gets PILOT_SITE and
// PILOT_QUEUE in its environment, the drain signal, and logs in LogDir.
func (c *Config) SubmitRequest(script, queue string) batch.SubmitRequest {
	if queue == "" {
		queue = c.Queue
	}
	site, err := filepath.Abs(c.Path)
	if err != nil {
		site = c.Path
	}
	env := map[string]string{"PILOT_SITE": site}
	if queue != "" {
		env["PILOT_QUEUE"] = queue
	}
	if script == "" {
		script = c.Slurm.Script
	}
	return batch.SubmitRequest{
		Script: script, Name: c.JobName(), Dir: c.StateDir, Output: filepath.Join(c.LogDir(), "pilot-%j.out"),
		Nodes: c.Slurm.Nodes, Walltime: c.Slurm.Walltime.D(), Partition: c.Slurm.Partition, Account: c.Slurm.Account,
		QOS: c.Slurm.QOS, SignalBefore: c.Slurm.DrainMargin.D(), Env: env, Extra: c.Slurm.ExtraArgs,
	}
}

// LaunchPolicy is the site's pilot-keeping policy for batch.PlanLaunch.
// coresPerNode sizes one pilot's capacity (0 when unknown: then Keep pilots
// are wanted whatever the work).
func (c *Config) LaunchPolicy(coresPerNode int) batch.LaunchPolicy {
	if c.Resources.Cores > 0 {
		coresPerNode = c.Resources.Cores
	}
	return batch.LaunchPolicy{
		Keep: c.Slurm.Keep, Overlap: c.Slurm.Overlap.D(), MaxQueued: c.Slurm.MaxQueued,
		PilotCoreS: float64(c.Slurm.Nodes*coresPerNode) * c.Slurm.Walltime.D().Seconds(),
	}
}
