// Package slurm holds the end-to-end tests of pilot on a real Slurm: the
// namespaced multi-node test cluster of scripts/slurm (brought up through
// batch/slurmtest), the real pilot binary built once per run, `pilot
// launch` submitting scripts/sbatch/pilot.sh as a user would, and one agent
// per node under srun, gossiping and voting over the nodes' own addresses.
//
// The tests are few and slow on purpose (minutes of real walltime): one
// campaign outlives several pilots (a 3-node pilot works a 300-task queue,
// a second pilot joins mid-run, the first drains at its real walltime, all
// pilots end, a new one resumes), and one pilot loses a node to a cut link.
// They judge only what an operator can read: the campaign's results.jsonl,
// each agent's attempt log, the pilots' logs and Slurm's view of the jobs.
// They wait by polling those with deadlines (Slurm and the agents are
// external processes), never by sleeping, and cancel every job and remove
// every file they made, also when they fail.
//
// The package has no code outside its tests; this file carries its
// paragraph of architecture.
package slurm
