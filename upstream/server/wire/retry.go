package wire

// PathRetry puts failed tasks back to pending (role admin): POST
// RetryRequest, answered with RetryResponse.
const PathRetry = "/v1/retry"

// RetryRequest names the failed tasks to retry; none: every failed task.
type RetryRequest struct {
	IDs []string `json:"ids,omitempty"`
}

// RetryResponse says how many tasks went back to pending.
type RetryResponse struct {
	Retried int `json:"retried"`
}
