// Package batch is the adapter between pilot and the batch system that grants
// its allocations. Today that is Slurm; PBS or LSF fit behind the same small
// Scheduler interface (submit, batched status, cancel, end time), the way
// HyperQueue keeps its batch systems behind one trait.
//
// Three kinds of code live here, kept apart so the pure ones test without a
// cluster:
//
//   - pure parsers: hostlists (ExpandHostlist), Slurm's count lists
//     ("2(x3),4"), squeue and scontrol output, the job's environment (FromEnv);
//     each is fuzzed and tested on output captured from a real Slurm
//     (testdata/*-22.05.8*) and on hand-written samples of newer formats;
//   - the command side (Slurm): runs sbatch, squeue, scancel and scontrol with
//     SLURM_TIME_FORMAT=standard and TZ=UTC so their times parse the same at
//     every site; every failure is a *CmdError carrying the command, its exit
//     code and its stderr;
//   - pure decisions: Tracker turns "Slurm does not know this job" into the
//     terminal state Gone only after a few confirmations (never "pending
//     forever", never dropped on one bad poll), and PlanLaunch says how many
//     pilots to submit now so a campaign never drops to zero agents;
//     Launcher.Round joins them to a Scheduler for `pilot launch`.
//
// The real-cluster tests (slurm_cluster_test.go) run against the namespaced
// test cluster of scripts/slurm; package slurmtest brings it up for them.
package batch
