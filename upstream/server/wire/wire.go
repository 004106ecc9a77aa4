package wire

import (
	"encoding/json"

	"github.com/pilot-hpc/pilot/task"
)

// Paths of the API. Every request carries "Authorization: Bearer TOKEN".
const (
	PathTasks    = "/v1/tasks"    // POST, JSONL body: submit (role submit)
	PathStatus   = "/v1/status"   // GET: counts per state and cluster (any role)
	PathResults  = "/v1/results"  // GET ?from=CURSOR&max=N&wait_s=S (any role)
	PathFlush    = "/v1/flush"    // POST: archive pending and leased tasks (role admin)
	PathLease    = "/v1/lease"    // POST LeaseRequest (role pilot)
	PathRenew    = "/v1/renew"    // POST RenewRequest (role pilot)
	PathComplete = "/v1/complete" // POST CompleteRequest (role pilot)
	PathRelease  = "/v1/release"  // POST ReleaseRequest (role pilot)
	PathArchive  = "/v1/archive"  // GET: the flushes; ?epoch=E&from=CURSOR&max=N: tasks a flush archived (any role)
)

// Content types of a submit body. JSONL is for people and curl; the Go
// client sends a msgpack array of task specs (the msgpack field names of
// task.Spec), which the server decodes several times faster than JSON.
const (
	ContentTypeJSONL   = "application/x-ndjson"
	ContentTypeMsgpack = "application/msgpack"
)

// SubmitResponse answers a submit: how many lines were stored and which
// were refused, by line.
type SubmitResponse struct {
	Accepted int         `json:"accepted"`
	Rejected []Rejection `json:"rejected,omitempty"`
}

// Rejection is one refused line of a submit body.
type Rejection struct {
	Line   int    `json:"line"` // 1-based line of the request body (element, for msgpack)
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

// LeaseRequest asks for up to MaxTasks tasks (and at most MaxCores cores,
// when set) for one cluster, for TTLS seconds.
type LeaseRequest struct {
	Cluster  string  `json:"cluster"`
	MaxTasks int     `json:"max_tasks"`
	MaxCores int     `json:"max_cores,omitempty"`
	TTLS     float64 `json:"ttl_s"`
}

// LeaseResponse lists the leased tasks.
type LeaseResponse struct {
	Leases []Leased `json:"leases"`
}

// Leased is one leased task; Task is its JSON line as submitted.
type Leased struct {
	Lease string          `json:"lease"`
	Task  json.RawMessage `json:"task"`
}

// RenewRequest extends a cluster's leases by TTLS seconds from now.
type RenewRequest struct {
	Cluster string   `json:"cluster"`
	IDs     []string `json:"ids"`
	TTLS    float64  `json:"ttl_s"`
}

// RenewResponse lists the ids whose lease the cluster no longer holds.
type RenewResponse struct {
	Lost []string `json:"lost"`
}

// CompleteRequest carries final results from one cluster.
type CompleteRequest struct {
	Cluster string        `json:"cluster"`
	Results []task.Result `json:"results"`
}

// CompleteResponse says what a complete recorded.
type CompleteResponse struct {
	Accepted   int      `json:"accepted"`
	Duplicates []string `json:"duplicates,omitempty"`
	Refused    []string `json:"refused,omitempty"`
}

// ReleaseRequest returns leased tasks to pending without a result.
type ReleaseRequest struct {
	Cluster string   `json:"cluster"`
	IDs     []string `json:"ids"`
}

// ReleaseResponse counts the tasks returned to pending.
type ReleaseResponse struct {
	Released int `json:"released"`
}

// ResultsResponse is one page of the results stream. Next is the cursor to
// ask from for the page after it (equal to the request's when none came).
type ResultsResponse struct {
	Results []json.RawMessage `json:"results"`
	Next    int64             `json:"next"`
}

// ArchiveResponse is one page of the tasks a flush archived, as their JSON
// lines, and the cursor of the next page.
type ArchiveResponse struct {
	Tasks []json.RawMessage `json:"tasks"`
	Next  uint64            `json:"next"`
}
