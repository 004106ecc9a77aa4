// Package sched is the pure scheduler: Place turns a read-only View of the
// cluster's nodes and the ledger's pending tasks into a Plan, with no
// goroutines, no IO and no clock reads. It imports neither raft, memberlist
// nor the ledger, so the leader, the tests and the simulator all run the
// same rules.
//
// Place works in three stages. Feasibility: a task fits a node when the
// node is not draining, has the free cores and memory, and the task's
// estimated runtime times (1+Slack) plus Margin ends before the node's pilot
// ends (the walltime rule); a task that fits nowhere gets a Reason code.
// Scoring: best fit, the node the task leaves with the fewest free cores,
// then the pilot that ends soonest (so long-lived nodes stay free for long
// tasks). Selection: the best score, ties broken by node id. Tasks are
// visited starved first (oldest wait first), then tasks with no estimate
// (while pilots still have time left), then the longest estimates first, so
// long tasks start early and short ones fill the tail of each pilot. A
// starved task that does not fit holds a reservation on one node (the one
// with the most free cores), which nothing else may take until it fits, so
// a stream of narrow tasks cannot starve a wide one.
//
// Speed comes from an index built once per call: nodes grouped by pilot end
// time, and within each group bucketed by free cores with a bitset of the
// non-empty buckets, so a placement costs a few word operations, not a scan
// of every node. A failing task shape (cores, memory, time needed) is
// remembered, so every later task of that shape fails in O(1).
//
// Estimator learns a high quantile of the observed runtimes of each
// function/shape key; the leader feeds it from completed tasks and hands it
// to Place in the View, which uses it for tasks that give no estimate.
package sched
