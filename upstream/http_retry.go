package upstream

import (
	"context"

	"github.com/pilot-hpc/pilot/upstream/server/wire"
)

// Retry puts failed tasks back to pending on the server (needs an admin
// token).
func (q *HTTPQueue) Retry(ctx context.Context, ids []string) (int, error) {
	var out wire.RetryResponse
	err := q.postJSON(ctx, wire.PathRetry, wire.RetryRequest{IDs: ids}, &out)
	return out.Retried, err
}
