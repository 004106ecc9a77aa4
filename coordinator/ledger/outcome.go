package ledger

import (
	"errors"
	"fmt"
)

// Code is the stable reason a transition was refused. The values cross the
// wire and appear in logs: never change one.
type Code string

// The refusal codes.
const (
	// CodeStaleAttempt: the report names an attempt that is not the task's
	// current one (or Assign does not carry current+1).
	CodeStaleAttempt Code = "stale-attempt"
	// CodeIllegal: the transition table does not allow this move.
	CodeIllegal Code = "illegal-transition"
	// CodeUnknownTask: the ledger holds no such task (never ingested,
	// already acked, or flushed).
	CodeUnknownTask Code = "unknown-task"
	// CodeUnknownNode: the ledger holds no such node.
	CodeUnknownNode Code = "unknown-node"
	// CodeDraining: the node's pilot is draining; it takes no new task.
	CodeDraining Code = "node-draining"
	// CodeOversubscribed: the node has not the cores or memory free.
	CodeOversubscribed Code = "oversubscribed"
	// CodeDuplicateTask: Ingest of an id the ledger already holds.
	CodeDuplicateTask Code = "duplicate-task"
	// CodeInvalid: a field breaks a rule (an invalid spec, a value over
	// 64 KiB, an unknown failure class, an empty node id).
	CodeInvalid Code = "invalid"
)

// Sentinel errors, one per code: a Refusal unwraps to its sentinel.
var (
	ErrStaleAttempt  = errors.New("stale attempt")
	ErrIllegal       = errors.New("illegal transition")
	ErrUnknownTask   = errors.New("unknown task")
	ErrUnknownNode   = errors.New("unknown node")
	ErrDraining      = errors.New("node is draining")
	ErrOversubscribe = errors.New("node oversubscribed")
	ErrDuplicateTask = errors.New("task already in the ledger")
	ErrInvalid       = errors.New("invalid command")
)

var codeErrs = map[Code]error{
	CodeStaleAttempt: ErrStaleAttempt, CodeIllegal: ErrIllegal,
	CodeUnknownTask: ErrUnknownTask, CodeUnknownNode: ErrUnknownNode,
	CodeDraining: ErrDraining, CodeOversubscribed: ErrOversubscribe,
	CodeDuplicateTask: ErrDuplicateTask, CodeInvalid: ErrInvalid,
}

// Err returns the sentinel error of a code (nil for an unknown code), so a
// code received over the wire turns back into an error callers match with
// errors.Is.
func (c Code) Err() error { return codeErrs[c] }

// Refusal is one transition that Apply refused. It is an error.
type Refusal struct {
	Cmd    CmdType `json:"cmd"`
	Task   string  `json:"task,omitempty"`
	Node   string  `json:"node,omitempty"`
	Code   Code    `json:"code"`
	Detail string  `json:"detail"`
}

func (r Refusal) Error() string {
	s := fmt.Sprintf("ledger refused %s", r.Cmd)
	if r.Task != "" {
		s += " of task " + r.Task
	}
	if r.Node != "" {
		s += " on node " + r.Node
	}
	return s + ": " + string(r.Code) + ": " + r.Detail
}

// Unwrap returns the sentinel of the refusal's code.
func (r Refusal) Unwrap() error { return r.Code.Err() }

// Outcome is what one Apply did: the same on every replica, returned to
// the proposer.
type Outcome struct {
	Index uint64 `json:"index"`
	// Applied counts the transitions (and node changes) that took effect.
	Applied int `json:"applied"`
	// Refused lists the transitions that did not, with their reason.
	Refused []Refusal `json:"refused,omitempty"`
	// Duplicates lists tasks that received a result after their first:
	// counted, not recorded.
	Duplicates []string `json:"duplicates,omitempty"`
	// Final lists tasks that became done or failed: their results are to
	// be written upstream, then Acked.
	Final []string `json:"final,omitempty"`
	// Late lists the tasks of Final that a late result made done: the
	// success of an attempt that had been requeued.
	Late []string `json:"late,omitempty"`
	// Requeued lists tasks that went back to the queue.
	Requeued []string `json:"requeued,omitempty"`
	// Dropped lists the tasks a Flush removed, sorted: the leader releases
	// their leases and cancels their running attempts.
	Dropped []string `json:"dropped,omitempty"`
}

// Err joins the refusals into one error, or returns nil when there are none.
func (o *Outcome) Err() error {
	if o == nil || len(o.Refused) == 0 {
		return nil
	}
	errs := make([]error, len(o.Refused))
	for i, r := range o.Refused {
		errs[i] = r
	}
	return errors.Join(errs...)
}

func (o *Outcome) refuse(cmd CmdType, taskID, node string, code Code, format string, a ...any) {
	o.Refused = append(o.Refused, Refusal{Cmd: cmd, Task: taskID, Node: node, Code: code, Detail: fmt.Sprintf(format, a...)})
}
