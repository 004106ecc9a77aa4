package rpc

import (
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// MsgType is the first byte of a frame. Append-only: never renumber.
type MsgType byte

const (
	MsgAssign      MsgType = 1   // AssignRequest, leader → agent
	MsgCancel      MsgType = 2   // CancelRequest, leader → agent
	MsgReport      MsgType = 3   // ReportRequest, agent → leader
	MsgAssignReply MsgType = 65  // AssignReply
	MsgAck         MsgType = 66  // Ack
	MsgReportReply MsgType = 67  // ReportReply
	MsgError       MsgType = 127 // Envelope
)

// Assignment is one attempt of one task placed on the receiving node.
type Assignment struct {
	Spec    task.Spec `msgpack:"spec"`
	Attempt int       `msgpack:"attempt"`
	// Cores is how many of the node's cores the scheduler gave it (it may
	// differ from Spec.Cores when a site config widens a task).
	Cores int `msgpack:"cores"`
	// Deadline is when the attempt must be over (the pilot's walltime
	// minus a margin), unix milliseconds; 0 means none.
	Deadline int64 `msgpack:"deadline"`
}

// DeadlineTime is Deadline as a time (zero when none).
func (a Assignment) DeadlineTime() time.Time {
	if a.Deadline == 0 {
		return time.Time{}
	}
	return time.UnixMilli(a.Deadline)
}

// AssignRequest carries a scheduling round's assignments for one node.
type AssignRequest struct {
	Leader string       `msgpack:"leader"` // the leader's node name, for logs
	Tasks  []Assignment `msgpack:"tasks"`
}

// Refusal is one item of a batch that the receiver did not take, and why.
// Err wraps the sentinel of its code (ErrNoCapacity, ErrDraining, ErrStale...).
type Refusal struct {
	TaskID  string
	Attempt int
	Err     error
}

// AssignReply lists the assignments the agent refused; it took the rest.
type AssignReply struct {
	Refused []Refusal
}

// TaskRef names one attempt of one task.
type TaskRef struct {
	ID      string `msgpack:"id"`
	Attempt int    `msgpack:"attempt"`
}

// CancelRequest asks an agent to end attempts (drain, flush, a requeue).
// Cancelling an attempt the agent does not run is not an error.
type CancelRequest struct {
	Tasks []TaskRef `msgpack:"tasks"`
}

// ReportKind is what happened to an attempt.
type ReportKind uint8

const (
	ReportStarted   ReportKind = 1
	ReportCompleted ReportKind = 2 // Result.State is done
	ReportFailed    ReportKind = 3 // Result says why; Infra says whose fault
)

// Report is one event of one attempt on the reporting node.
type Report struct {
	Kind    ReportKind `msgpack:"kind"`
	TaskID  string     `msgpack:"task"`
	Attempt int        `msgpack:"attempt"`
	At      int64      `msgpack:"at"` // unix milliseconds on the agent
	// Result is set for Completed and Failed.
	Result task.Result `msgpack:"result"`
	// Infra is set on a Failed report that was not the task's fault (a
	// cancel, a drain, a setup failure): the retry does not spend an attempt.
	Infra bool `msgpack:"infra"`
	// Class is the failure class of a Failed report as the ledger names
	// it ("task", "infra", "fatal"); empty: derived from Infra.
	Class string `msgpack:"class,omitempty"`
	// Reason is the runner's stable reason code (exit, signal, timeout...).
	Reason string `msgpack:"reason,omitempty"`
	// CPUs are the OS CPU ids the attempt was pinned to, so overlaps can
	// be checked from the leader's records.
	CPUs     []int   `msgpack:"cpus,omitempty"`
	CPUTimeS float64 `msgpack:"cpu_s,omitempty"`
	MaxRSSKB int64   `msgpack:"rss_kb,omitempty"`
}

// ReportRequest carries reports from one node. With Heartbeat set it also
// lists every attempt the node runs, so the leader can requeue attempts the
// node lost and tell it to cancel attempts it should not run.
type ReportRequest struct {
	Node      string    `msgpack:"node"`
	Reports   []Report  `msgpack:"reports"`
	Heartbeat bool      `msgpack:"heartbeat,omitempty"`
	Running   []TaskRef `msgpack:"running,omitempty"`
	SentAt    int64     `msgpack:"sent_at,omitempty"` // unix milliseconds on the agent
}

// ReportReply lists the reports the leader refused (a stale attempt, a
// task it does not know); it recorded the rest.
type ReportReply struct {
	Refused []Refusal
	// Cancel lists attempts the node runs that the ledger does not give it
	// (flushed, stale): the node stops them. Only in a heartbeat's reply.
	Cancel []TaskRef
}

// Ack is the reply to a request that returns nothing.
type Ack struct{}
