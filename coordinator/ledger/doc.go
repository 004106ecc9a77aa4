// Package ledger is the replicated state of the tasks a cluster holds: a
// deterministic state machine fed by typed commands from the Raft log. It
// imports neither raft nor memberlist, so the scheduler, the simulator and
// the tests drive it with no network; package coordinator wraps it in a
// raft.FSM.
//
// A task moves through one transition table (Transition); every applyX
// method checks it:
//
//	          Ingest                Assign               Started
//	upstream ───────▶ queued ───────────────▶ assigned ──────────▶ running
//	                   ▲  │                   │   │                 │  │
//	                   │  │ Fail(fatal)       │   │ Complete        │  │ Complete
//	                   │  ▼                   │   ▼                 │  ▼
//	                   │ failed ◀─────────────┼── done ◀────────────┘ done
//	                   │                      │
//	                   └── Requeue, Fail(infra), Fail(task) with attempts
//	                       left, AgentLost (assigned; running below the
//	                       crash limit)
//
//	queued ── Complete (exit 0) of its requeued attempt ──▶ done (a late result)
//	done, failed ── Acked ──▶ removed (the result is upstream: promise 6)
//	queued, assigned (and running, if asked) ── Flush ──▶ removed
//
// Data valid in one state lives only in that state: the queue position in
// queued; the node and assignment time in assigned and running; the start
// time in running; the result in done and failed. Attempt numbers fence
// stale reports (promise 2): Assign carries the next attempt, Started,
// Complete and Fail must carry the current one. The first result wins; a
// later Complete is counted as a duplicate and never recorded. Assign
// refuses to oversubscribe a node's cores or memory (promise 3).
//
// A late result: a requeue (AgentLost, Fail(infra), Requeue) puts a task
// back in the queue with the same attempt number until the next Assign
// gives it the next one. If the requeued attempt was still running (its
// node was paused or cut off, not dead) and its success arrives in that
// window, the task becomes done with it, as from running: the attempt is
// current, and running the task again would only give its result twice
// (Outcome.Late names such tasks, Counts.Late counts them).
// Once the task is assigned again the old attempt is stale, as always. A
// late failure (a Complete with another exit code, a Fail of class task
// or infra) is refused: the requeue already dealt with the attempt, and
// charging it again would count one failure twice. A Fail of class fatal
// still fails a queued task (the leader's unschedulable verdict).
//
// The poison-task rule: AgentLost charges a crash only to the tasks running
// on the lost node; one that has been running on CrashLimit nodes that
// died fails as crashed-nodes. Assigned tasks (a node's backlog, never
// started there) go back to the queue uncharged, so losing nodes fails no
// innocent task that merely waited on them. An agent starts a retry's
// process only once the ledger records it running, but a first attempt at
// once (a round trip per task would cost short tasks a quarter of their
// rate): a first attempt lost while assigned that may have started (the
// leader names those in AgentLost.MayHaveRun: they had taken their scratch
// cache entry, which an agent does right before starting a task) is marked
// FirstLost and counts as one crash more once the task has crashed a node
// running. A task that kills its node at once is so failed after CrashLimit
// losses either way, and one that merely waited in backlogs never is.
//
// Commands are one CmdType byte (explicit values, append-only) followed by
// the msgpack body of one struct encoded as a map; one log entry may carry a
// Batch. Apply never reads a clock, draws a random number or ranges over a
// map: the leader writes the time into every command. A body that does not
// decode panics (the log is corrupt); a broken rule is a Refusal in the
// Outcome, the same on every replica.
//
// The state is a set of persistent B+trees (btree.go): each Apply builds
// new roots in one copy-on-write transaction, copying each touched node
// once however many transitions the entry carries, and publishes them
// atomically, so queries run concurrently with Apply without locks and a
// Snapshot is O(1). (hashicorp/go-immutable-radix did the same at four
// times the memory per task and half the speed.) Persist writes nodes and tasks sorted by id, so every
// replica in the same state writes the same bytes, and Hash is a digest of
// those bytes.
package ledger
