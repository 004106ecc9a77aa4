// Package sim is the discrete-event simulator that proves how densely the
// scheduler packs an allocation. It runs the real rules and no copy of
// them: every state change is a real ledger command, encoded and fed to
// the real ledger.Apply through one door (book, in ledger.go), every
// placement of the dense policy is the real sched.Place, and the ledger's
// invariants are checked after every entry: CheckTouched over the tasks
// and nodes the entry touched, and the full CheckInvariants after every
// Config.CheckEvery-th entry (100 by default; 1 for every entry) and at
// the end. The only placement rule of its own is the fifo
// baseline (fifo.go): first fit in submission order, blind to walltime.
//
// Time is a fake clock: an event queue ordered by (time, kind, sequence)
// holds pilot arrivals, task ends, node losses and pilot ends; after the
// events of one instant are applied, one scheduling round refills the
// ledger's window from the simulated upstream and places tasks. Pilots
// (Config.Pilots slots of Nodes/Pilots nodes) arrive after a random queue
// wait, run for Walltime and may lose nodes. When one ends, the real
// launcher rule (batch.PlanLaunch) decides how many take its place: one per
// free slot while the work can use them, fewer at the campaign's tail,
// when a few long tasks are left that more pilots would not end sooner
// (launch.go). Once upstream has no more tasks, a pilot whose nodes are
// idle with no queued task that fits its time left is released, the
// leader's rule (sched.Releasable, release.go). Tasks carry a true
// runtime that differs from their estimate. The window is the leader's
// rule, sched.LeaseRoom: Window times the live cores of queued work, not
// counting the tasks the round's plan left that cannot use the room there
// is (sched.Plan.Unfit: waiting only for walltime, or wider than every
// gap while cores idle and no starved task holds a node; at most one
// more window of them), so the tail of each pilot finds short tasks to
// fill it, and the gaps narrow tasks leave find narrow tasks.
// Besides the ledger's state, the simulator keeps only what a leader
// keeps beside it: the learned runtimes (sched.Estimator, fed from
// completed tasks) and when each node's running tasks are expected to end
// (for sched.Node.BusyUntil).
//
// Besides utilisation, a run splits its idle core-seconds by cause
// (idle.go, Result.IdleByCause; hour by hour with Config.Hourly, `pilot
// sim --hours`): nothing queued, a node held for a starved task, a task
// that has the cores but not the time (or a node kept for a wide task),
// only wide tasks queued and wider than the gaps, narrow ones wider than
// the gaps, and the tail after the last start; and each hour's
// node-seconds without a wide task, which on a workload whose wide tasks
// bind lengthen the campaign one for one.
//
// Every random draw comes from generators seeded by Config.Seed, separate
// for the workload and for each pilot slot, so both policies see the same
// tasks and the same pilots, and a seed replays exactly.
package sim
