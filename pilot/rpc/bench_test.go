package rpc

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkAssign measures round trips of one authenticated, pooled
// connection carrying batches of 1 and of 64 assignments.
func BenchmarkAssign(b *testing.B) {
	for _, size := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			ln, _ := serve(b, Handler{Assign: func(context.Context, *AssignRequest) (AssignReply, error) { return AssignReply{}, nil }})
			c := client(b, ln.Addr().String(), key)
			req := &AssignRequest{Leader: "n1"}
			for i := range size {
				req.Tasks = append(req.Tasks, assignment(fmt.Sprintf("t%d", i), 1))
			}
			for b.Loop() {
				if _, err := c.Assign(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "tasks/s")
		})
	}
}
