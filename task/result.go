package task

import "encoding/json"

// Final states of a result record.
const (
	StateDone   = "done"
	StateFailed = "failed"
)

// Cache outcomes of a result record.
const (
	CacheHit  = "hit"
	CacheMiss = "miss"
)

// Result is the one record a final task leaves: a line of results.jsonl, or
// a row of the queue server. Field names are the wire format.
type Result struct {
	ID       string          `json:"id" msgpack:"id"`
	State    string          `json:"state" msgpack:"state"`
	Attempts int             `json:"attempts" msgpack:"attempts"`
	ExitCode int             `json:"exit_code" msgpack:"exit_code"`
	Cache    string          `json:"cache,omitempty" msgpack:"cache,omitempty"`
	Node     string          `json:"node,omitempty" msgpack:"node,omitempty"`
	Pilot    string          `json:"pilot,omitempty" msgpack:"pilot,omitempty"`
	RuntimeS float64         `json:"runtime_s" msgpack:"runtime_s"`
	CoreS    float64         `json:"core_s" msgpack:"core_s"`
	Value    json.RawMessage `json:"value,omitempty" msgpack:"value,omitempty"`
	Output   *Output         `json:"output,omitempty" msgpack:"output,omitempty"`
	Error    string          `json:"error,omitempty" msgpack:"error,omitempty"`
	// Line is set for a malformed queue line that became a failed result:
	// the 1-based line number of the queue file it came from.
	Line int `json:"line,omitempty" msgpack:"line,omitempty"`
}

// Output is a staged output too big to travel inline (promise: results stay
// small, big outputs go to a results store).
type Output struct {
	URI    string `json:"uri" msgpack:"uri"`
	Bytes  int64  `json:"bytes" msgpack:"bytes"`
	SHA256 string `json:"sha256" msgpack:"sha256"`
}
