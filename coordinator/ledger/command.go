package ledger

import (
	"fmt"

	"github.com/pilot-hpc/pilot/task"
)

// CmdType is the first byte of every log entry. The values are in the log
// on disk: they are explicit and append-only; never renumber or reuse one.
type CmdType uint8

// The command types.
const (
	CmdIngest        CmdType = 1
	CmdAssign        CmdType = 2
	CmdStarted       CmdType = 3
	CmdComplete      CmdType = 4
	CmdFail          CmdType = 5
	CmdRequeue       CmdType = 6
	CmdAgentJoined   CmdType = 7
	CmdAgentLost     CmdType = 8
	CmdPilotDraining CmdType = 9
	CmdAcked         CmdType = 10
	CmdFlush         CmdType = 11
	CmdBatch         CmdType = 12
)

var cmdNames = map[CmdType]string{
	CmdIngest: "ingest", CmdAssign: "assign", CmdStarted: "started",
	CmdComplete: "complete", CmdFail: "fail", CmdRequeue: "requeue",
	CmdAgentJoined: "agent-joined", CmdAgentLost: "agent-lost",
	CmdPilotDraining: "pilot-draining", CmdAcked: "acked", CmdFlush: "flush",
	CmdBatch: "batch",
}

func (c CmdType) String() string {
	if n, ok := cmdNames[c]; ok {
		return n
	}
	return fmt.Sprintf("cmd(%d)", uint8(c))
}

// Command is the body of one log entry. Every command carries At, the unix
// nanoseconds the leader wrote when it proposed it: Apply never reads a clock.
type Command interface {
	Type() CmdType
}

// Ingest adds a window of tasks leased from upstream, queued in the order
// given. Defaults are applied to each spec; an invalid spec or an id the
// ledger already holds is refused.
type Ingest struct {
	At    int64    `msgpack:"at"`
	Tasks []Leased `msgpack:"tasks"`
}

// Leased is one task and its upstream lease id.
type Leased struct {
	Spec  task.Spec `msgpack:"spec"`
	Lease string    `msgpack:"lease,omitempty"`
}

// Assign places queued tasks on nodes. Each carries the task's next
// attempt (its current attempt + 1), so two plans for one task cannot
// both commit.
type Assign struct {
	At    int64        `msgpack:"at"`
	Items []Assignment `msgpack:"items"`
}

// Assignment is one task placed on one node.
type Assignment struct {
	Task    string `msgpack:"task"`
	Node    string `msgpack:"node"`
	Attempt int    `msgpack:"attempt"`
}

// Started says that agents began running attempts.
type Started struct {
	At    int64        `msgpack:"at"`
	Items []AttemptRef `msgpack:"items"`
}

// AttemptRef names one attempt of one task.
type AttemptRef struct {
	Task    string `msgpack:"task"`
	Attempt int    `msgpack:"attempt"`
}

// Complete records the results of finished attempts. A result with exit
// code 0 makes the task done; any other exit code is a task failure (as a
// Fail of class task), so the rule that counts attempts lives here only.
// The ledger fills the result's id, state, attempts and node.
type Complete struct {
	At    int64        `msgpack:"at"`
	Items []Completion `msgpack:"items"`
}

// Completion is the result of one attempt.
type Completion struct {
	Task    string      `msgpack:"task"`
	Attempt int         `msgpack:"attempt"`
	Result  task.Result `msgpack:"result"`
}

// FailClass says whom a failure is charged to.
type FailClass string

// The failure classes.
const (
	// FailTask counts toward the task's max_attempts.
	FailTask FailClass = "task"
	// FailInfra (node lost, walltime drain) does not.
	FailInfra FailClass = "infra"
	// FailFatal fails the task now, whatever attempts remain; a queued task
	// may fail this way too (unschedulable: it fits no node).
	FailFatal FailClass = "fatal"
)

// Fail reports failed attempts.
type Fail struct {
	At    int64     `msgpack:"at"`
	Items []Failure `msgpack:"items"`
}

// Failure is one failed attempt. Result, when given, is what the attempt
// reported (exit code, runtime); it becomes the task's result record if
// the task fails for good. Error says what happened.
type Failure struct {
	Task    string       `msgpack:"task"`
	Attempt int          `msgpack:"attempt"`
	Class   FailClass    `msgpack:"class"`
	Error   string       `msgpack:"error,omitempty"`
	Result  *task.Result `msgpack:"result,omitempty"`
}

// Requeue takes assigned or running attempts back to the queue without
// charging anyone (the leader revoked them: drain, rebalancing).
type Requeue struct {
	At    int64        `msgpack:"at"`
	Items []AttemptRef `msgpack:"items"`
}

// AgentJoined adds a node, or updates a known one (a new address, a later
// pilot end); a known node keeps what its tasks use, and may not shrink
// below it. A known node that joins with another pilot (the same host in a
// new allocation) stops draining.
type AgentJoined struct {
	At   int64    `msgpack:"at"`
	Node NodeInfo `msgpack:"node"`
}

// NodeInfo is what an agent tells the cluster about its node.
type NodeInfo struct {
	ID       string `msgpack:"id"`
	Cores    int    `msgpack:"cores"`
	MemMB    int64  `msgpack:"mem_mb,omitempty"`
	Pilot    string `msgpack:"pilot,omitempty"`
	PilotEnd int64  `msgpack:"pilot_end,omitempty"`
	Addr     string `msgpack:"addr,omitempty"`
	// Prefetch: see Node.Prefetch.
	Prefetch int `msgpack:"prefetch,omitempty"`
}

// DefaultCrashLimit is the number of node deaths a task may witness while
// it runs before AgentLost fails it as crashed-nodes (the poison-task rule).
const DefaultCrashLimit = 2

// AgentLost removes a node. Its assigned and running tasks go back to the
// queue as infra failures, except a task that has now been running on
// CrashLimit nodes that died: it fails with ReasonCrashedNodes. Only a
// running attempt is charged a crash: an assigned one waited in the node's
// backlog and never ran, so it cannot be what killed the node (the agent
// records a retry's Started before it starts its process; a first attempt
// that may have started unrecorded is marked FirstLost, see the package
// doc). CrashLimit
// is in the command, not in a config, so every replica applies the same
// rule; 0 means DefaultCrashLimit.
type AgentLost struct {
	At         int64  `msgpack:"at"`
	Node       string `msgpack:"node"`
	CrashLimit int    `msgpack:"crash_limit,omitempty"`
	// MayHaveRun names the tasks assigned there at their first attempt
	// that may have started unrecorded (the leader's evidence: they had
	// taken their scratch cache entry, which an agent does right before it
	// starts a task). They are marked FirstLost; the other assigned tasks
	// waited in the node's backlog.
	MayHaveRun []string `msgpack:"may_have_run,omitempty"`
}

// PilotDraining marks every node of a pilot as draining: no new task is
// assigned to it. Its running tasks may still finish.
type PilotDraining struct {
	At    int64  `msgpack:"at"`
	Pilot string `msgpack:"pilot"`
}

// Acked says that the results of final tasks are written upstream: the
// tasks leave the ledger so its memory stays bounded (promise 6).
type Acked struct {
	At    int64    `msgpack:"at"`
	Tasks []string `msgpack:"tasks"`
}

// Flush drops every queued and assigned task (and running ones when
// Running is set) in one step. Outcome.Dropped lists them so the leader
// can release their leases and cancel their attempts; later reports for
// them are refused as unknown. Final tasks stay: their results go upstream.
type Flush struct {
	At      int64 `msgpack:"at"`
	Running bool  `msgpack:"running,omitempty"`
}

// Batch carries several commands in one log entry, applied in order. A
// batch may not contain a batch.
type Batch struct {
	Cmds []Command `msgpack:"-"`
}

func (Ingest) Type() CmdType        { return CmdIngest }
func (Assign) Type() CmdType        { return CmdAssign }
func (Started) Type() CmdType       { return CmdStarted }
func (Complete) Type() CmdType      { return CmdComplete }
func (Fail) Type() CmdType          { return CmdFail }
func (Requeue) Type() CmdType       { return CmdRequeue }
func (AgentJoined) Type() CmdType   { return CmdAgentJoined }
func (AgentLost) Type() CmdType     { return CmdAgentLost }
func (PilotDraining) Type() CmdType { return CmdPilotDraining }
func (Acked) Type() CmdType         { return CmdAcked }
func (Flush) Type() CmdType         { return CmdFlush }
func (Batch) Type() CmdType         { return CmdBatch }
