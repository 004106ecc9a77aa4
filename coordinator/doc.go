// Package coordinator runs the task ledger (package coordinator/ledger) as
// a Raft-replicated state machine with hashicorp/raft, and the leader that
// works the campaign on top of it.
//
// The wiring: FSM adapts a ledger.Ledger to raft.FSM (it returns each
// entry's *ledger.Outcome as the apply response, and wakes WaitApplied).
// Node owns one Raft server: raft-wal as log and stable store on the
// node-local disk, a file snapshot store beside it, and a TCP transport
// whose stream layer can wrap every connection (ConnWrapper) so that
// campaign-key authentication plugs in without touching this package.
// Every write goes through Node.Propose, which encodes one typed command,
// always waits on the future's Error (raft's own timeout bounds only the
// enqueue), honours the caller's context, and turns raft.ErrNotLeader into
// a *NotLeaderError carrying the leader's id and address. Membership
// (AddVoter, AddNonvoter, DemoteVoter, RemoveServer), leadership transfer,
// Barrier and WaitApplied complete the API the leader loop builds on.
//
// Throughput comes from batching, not goroutines: one log entry carries
// many transitions (ledger.Batch, or one command with many items), raft
// batches concurrent proposals into one disk write (BatchApplyCh), and a
// few proposals in flight keep the pipeline full. Package coordtest builds
// in-process clusters on 127.0.0.1 for tests.
//
// The Leader runs two loops while its node leads. The upstream loop leases
// a window of tasks sized to the cluster and ingests it, writes final
// results upstream and then commits Acked, and renews leases; the place
// loop runs the pure scheduler (package sched) on the newest ledger state,
// first on idle cores, then once more to fill the nodes' backlogs with
// short tasks (placeBacklogs), commits the plan as one Assign and
// dispatches it. Placement never waits on upstream I/O. Agents' reports
// are committed as they arrive (Report), and start both loops' next round.
package coordinator
