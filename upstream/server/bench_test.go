package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// benchServer starts a queue server child process with fresh data.
func benchServer(b *testing.B) (*child, string) {
	dir := b.TempDir()
	c := startChild(b, "127.0.0.1:0", filepath.Join(dir, "data"), writeTokens(b, dir))
	return c, "http://" + c.addr
}

func benchClient(b *testing.B, url, token string) *upstream.HTTPQueue {
	q, err := upstream.OpenHTTP(url, upstream.HTTPOptions{Token: token, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { q.Close() })
	return q
}

// BenchmarkServeSubmit sends 100,000 tasks of 10 kB each to a server
// process on loopback (two client streams, 8 MiB batches) and reports
// tasks/s, MB/s, the server's peak RSS (VmHWM: it includes pages of the
// bbolt file mapped in, which the kernel may drop) and its anonymous
// (heap) RSS at the end. Run with -benchtime=1x; PILOT_BENCH_TASKS=1000000
// shows the memory of a million-task backlog (10 GB of disk).
func BenchmarkServeSubmit(b *testing.B) {
	const streams, chunk = 2, 4000
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("PILOT_BENCH_TASKS")); err == nil && v > 0 {
		n = v
	}
	input := strings.Repeat("C", 10<<10-100)
	for b.Loop() {
		b.StopTimer()
		srv, url := benchServer(b)
		q := benchClient(b, url, tokSubmit)
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		var bytes [streams]int64
		errs := make(chan error, streams)
		for s := 0; s < streams; s++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for lo := s * chunk; lo < n; lo += streams * chunk {
					batch := make([]task.Spec, min(chunk, n-lo))
					for i := range batch {
						batch[i] = task.Spec{ID: fmt.Sprintf("mol-%07d", lo+i), Cmd: []string{"python3", "shift.py"}, Input: input, Cores: 8}
						bytes[s] += int64(len(input) + 60)
					}
					rep, err := q.Submit(context.Background(), batch)
					if err == nil && rep.Accepted != len(batch) {
						err = fmt.Errorf("accepted %d of %d: %+v", rep.Accepted, len(batch), rep.Rejected)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		b.StopTimer()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		rss, err := srv.memory("VmHWM")
		if err != nil {
			b.Fatal(err)
		}
		anon, err := srv.memory("RssAnon")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(anon)/(1<<20), "server-anon-RSS-MiB")
		b.ReportMetric(float64(n)/el.Seconds(), "tasks/s")
		b.ReportMetric(float64(bytes[0]+bytes[1])/1e6/el.Seconds(), "MB/s")
		b.ReportMetric(float64(rss)/(1<<20), "server-peak-RSS-MiB")
		srv.kill()
		b.StartTimer()
	}
}

// BenchmarkLeaseComplete leases and completes 100,000 small tasks in
// batches of 1,000 (one lease and one complete round trip per batch) from
// a server process on loopback and reports tasks/s.
func BenchmarkLeaseComplete(b *testing.B) {
	const n, batch = 100000, 1000
	for b.Loop() {
		b.StopTimer()
		_, url := benchServer(b)
		if rep, err := benchClient(b, url, tokSubmit).Submit(context.Background(), specs("t", n)); err != nil || rep.Accepted != n {
			b.Fatalf("filling: %+v %v", rep, err)
		}
		p := benchClient(b, url, tokPilot)
		b.StartTimer()
		start := time.Now()
		done := 0
		for {
			ls, err := p.Lease(context.Background(), upstream.LeaseRequest{Cluster: "bench", MaxTasks: batch, TTL: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			if len(ls) == 0 {
				break
			}
			res := make([]task.Result, len(ls))
			for i, l := range ls {
				res[i] = task.Result{ID: l.Spec.ID, State: task.StateDone, Attempts: 1, ExitCode: 0, RuntimeS: 1, CoreS: 1}
			}
			rep, err := p.Complete(context.Background(), "bench", res)
			if err != nil || rep.Accepted != len(res) {
				b.Fatalf("complete: %+v %v", rep, err)
			}
			done += len(res)
		}
		el := time.Since(start)
		if done != n {
			b.Fatalf("completed %d of %d", done, n)
		}
		b.ReportMetric(float64(n)/el.Seconds(), "tasks/s")
	}
}
