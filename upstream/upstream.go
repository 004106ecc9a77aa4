package upstream

import (
	"context"
	"errors"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// Queue is an upstream: where tasks wait and results return. Both kinds (a
// JSONL file on a shared filesystem, and the hosted queue server at a URL)
// implement it, so the leader and the CLI do not care which one they use.
//
// Every method is safe for concurrent use. Methods that reach a server block
// until it answers or ctx ends; an outage is returned as an error wrapping
// ErrUnavailable, which callers retry with backoff and never treat as data.
type Queue interface {
	// Submit validates and appends tasks. Invalid tasks are reported per
	// task in the report and never stored; the valid ones are stored
	// atomically (all of them or, on error, none).
	Submit(ctx context.Context, specs []task.Spec) (SubmitReport, error)

	// Lease hands up to req.MaxTasks pending tasks (and at most
	// req.MaxCores cores in total, when set) to one cluster for req.TTL.
	// A task is leased to one cluster at a time; an expired lease returns
	// the task to pending. Malformed queue entries never come back as
	// leases: the queue records them as failed results itself.
	Lease(ctx context.Context, req LeaseRequest) ([]Leased, error)

	// Renew extends the leases a cluster still holds. Leases it no longer
	// holds (expired and taken by another cluster, flushed) are returned in
	// lost so the cluster can stop working on them.
	Renew(ctx context.Context, cluster string, ids []string, ttl time.Duration) (lost []string, err error)

	// Complete records final results. The first result for a task is
	// accepted; any later one is counted as a duplicate and never becomes a
	// second result record. A result for a flushed task is refused.
	Complete(ctx context.Context, cluster string, results []task.Result) (CompleteReport, error)

	// Release returns leased tasks to pending without a result (drain,
	// a cluster giving up its window).
	Release(ctx context.Context, cluster string, ids []string) error

	// Status counts the tasks in each upstream state.
	Status(ctx context.Context) (Status, error)

	// Results lists final results from cursor on, at most max of them, and
	// the cursor to continue from. Following is calling it again.
	Results(ctx context.Context, from Cursor, max int) ([]task.Result, Cursor, error)

	// Flush drops every pending and leased task in one atomic step and
	// archives them (never destroys). Results already recorded stay.
	Flush(ctx context.Context) (FlushReport, error)

	// Retry puts failed tasks back to pending with fresh attempts (ids
	// empty: every failed task) and returns how many it put back. Their
	// failed results are archived, not destroyed, and leave the results,
	// so each final task keeps exactly one result record.
	Retry(ctx context.Context, ids []string) (n int, err error)

	// Close releases files and connections.
	Close() error
}

// ErrUnavailable wraps every error that a later retry may cure: a server
// that is down, slow or answering 5xx.
var ErrUnavailable = errors.New("upstream unavailable")

// ErrFenced means another, newer leader owns the campaign's state; this
// writer must stop writing.
var ErrFenced = errors.New("fenced: a newer leader owns this campaign's state")

// LeaseRequest asks for a window of work for one cluster.
type LeaseRequest struct {
	Cluster  string
	MaxTasks int
	MaxCores int // 0: no limit on the window's cores
	TTL      time.Duration
}

// Leased is one task handed to a cluster.
type Leased struct {
	Spec task.Spec
	// Lease identifies this lease; the ledger keeps it with the task.
	Lease string
}

// SubmitReport says what a Submit stored and what it refused.
type SubmitReport struct {
	Accepted int
	Rejected []Rejection
}

// Rejection is one task that was not stored and why.
type Rejection struct {
	Index  int    // 0-based position in the submitted batch
	Line   int    // 1-based line of the input, when it came from a file
	ID     string // when it could be read
	Reason string
}

// CompleteReport says what a Complete recorded.
type CompleteReport struct {
	Accepted   int
	Duplicates []string // ids that already had a result
	Refused    []string // ids that were flushed or unknown
}

// Status counts tasks by upstream state. Every task is in exactly one.
type Status struct {
	Pending int `json:"pending"`
	Leased  int `json:"leased"`
	Done    int `json:"done"`
	Failed  int `json:"failed"`
	Flushed int `json:"flushed"`
	// LeasedBy counts leased tasks per cluster.
	LeasedBy map[string]int `json:"leased_by,omitempty"`
	// Duplicates counts results that arrived after a task's first one.
	Duplicates int `json:"duplicates"`
}

// FlushReport says what a Flush archived.
type FlushReport struct {
	Pending int    `json:"pending"`
	Leased  int    `json:"leased"`
	Archive string `json:"archive"` // where the flushed tasks were kept
}

// Cursor is a position in the results stream; the zero value is the start.
type Cursor int64
