package upstream

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// BenchmarkFileLeaseComplete leases a batch of tasks and completes them,
// each call one fsynced write (results) and one atomic state replacement.
func BenchmarkFileLeaseComplete(b *testing.B) {
	for _, batch := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			n := b.N * batch
			q, _ := newQ(b, n, newClock())
			b.ResetTimer()
			t0 := time.Now()
			for i := 0; i < b.N; i++ {
				ls, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: batch, TTL: time.Hour})
				if err != nil || len(ls) != batch {
					b.Fatalf("lease: %d, %v", len(ls), err)
				}
				if _, err := q.Complete(ctx, "a", done(specIDs(ls)...)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "tasks/s")
		})
	}
}

// BenchmarkFileLeaseComplete10kB is BenchmarkFileLeaseComplete with tasks
// of 10 kB (the user's), in batches of 500: decoding them dominates.
func BenchmarkFileLeaseComplete10kB(b *testing.B) {
	const batch = 500
	path := filepath.Join(b.TempDir(), "tasks.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	pad := strings.Repeat("x", 9940)
	for i := 0; i < b.N*batch; i++ {
		fmt.Fprintf(f, `{"id":"t-%07d","cmd":["true"],"input":"%s"}`+"\n", i, pad)
	}
	f.Close()
	q := openQ(b, path, newClock())
	b.SetBytes(batch * 10_000)
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		ls, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: batch, TTL: time.Hour})
		if err != nil || len(ls) != batch {
			b.Fatalf("lease: %d, %v", len(ls), err)
		}
		if _, err := q.Complete(ctx, "a", done(specIDs(ls)...)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(t0).Seconds(), "tasks/s")
}

// BenchmarkFileSubmit appends batches of 1,000 tasks of 10 kB.
func BenchmarkFileSubmit(b *testing.B) {
	const batch = 1000
	path := filepath.Join(b.TempDir(), "tasks.jsonl")
	q := openQ(b, path, newClock())
	input := string(make([]byte, 0))
	for len(input) < 10_000 {
		input += "0123456789"
	}
	specs := make([]task.Spec, batch)
	b.SetBytes(batch * 10_050)
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		for j := range specs {
			specs[j] = task.Spec{ID: fmt.Sprintf("t-%d-%d", i, j), Cmd: []string{"true"}, Input: input}
		}
		rep, err := q.Submit(ctx, specs)
		if err != nil || rep.Accepted != batch {
			b.Fatalf("submit: %+v %v", rep, err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(t0).Seconds(), "tasks/s")
	b.StopTimer()
	os.Remove(path)
}

// BenchmarkFileOpen indexes a queue of 10,000 task lines of 10 kB (100 MB),
// what every OpenFile does: read and validate each line, keep its offset.
func BenchmarkFileOpen(b *testing.B) {
	const n, size = 10_000, 10_000
	path := filepath.Join(b.TempDir(), "tasks.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	pad := make([]byte, size-60)
	for i := range pad {
		pad[i] = 'x'
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(f, `{"id":"t-%06d","cmd":["true"],"input":"%s"}`+"\n", i, pad)
	}
	f.Close()
	for _, cached := range []bool{false, true} {
		b.Run(fmt.Sprintf("cached=%v", cached), func(b *testing.B) {
			openQ(b, path, newClock()).Close() // writes the cache
			b.SetBytes(n * size)
			b.ResetTimer()
			t0 := time.Now()
			for i := 0; i < b.N; i++ {
				if !cached {
					os.Remove(path + ".pilot/" + indexCacheFile)
				}
				openQ(b, path, newClock()).Close()
			}
			b.ReportMetric(float64(b.N*n)/time.Since(t0).Seconds(), "lines/s")
		})
	}
}

// BenchmarkFileOpenResults opens a campaign with 20,000 results of 5 kB
// (100 MB): what a status or a new leader pays for results.jsonl.
func BenchmarkFileOpenResults(b *testing.B) {
	const n = 20_000
	q, path := newQ(b, n, newClock())
	value := []byte(`"` + strings.Repeat("v", 5000) + `"`)
	for i := 0; i < n; i += 1000 {
		ls, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 1000, TTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		rs := done(specIDs(ls)...)
		for j := range rs {
			rs[j].Value = value
		}
		if _, err := q.Complete(ctx, "a", rs); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		openQ(b, path, newClock()).Close()
	}
	b.ReportMetric(float64(b.N*n)/time.Since(t0).Seconds(), "results/s")
}

// BenchmarkSubmitLines is 'pilot submit' of 5,000 lines of 10 kB into a
// file queue: read, parse (on every CPU), store.
func BenchmarkSubmitLines(b *testing.B) {
	const n = 5000
	var in strings.Builder
	pad := strings.Repeat("x", 9940)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&in, `{"id":"t-%07d","cmd":["true"],"input":"%s"}`+"\n", i, pad)
	}
	b.SetBytes(int64(in.Len()))
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		q := openQ(b, filepath.Join(b.TempDir(), "tasks.jsonl"), newClock())
		rep, err := SubmitLines(ctx, q, strings.NewReader(in.String()), SubmitLinesOptions{})
		if err != nil || rep.Accepted != n {
			b.Fatalf("%+v %v", rep, err)
		}
	}
	b.ReportMetric(float64(b.N*n)/time.Since(t0).Seconds(), "tasks/s")
}
