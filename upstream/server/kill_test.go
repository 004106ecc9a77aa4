package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/upstream"
)

// While a client streams 100,000 submissions, the server process is killed
// with SIGKILL twice and restarted on the same address and data. The client
// retries through the outage; afterwards every acknowledged task is in the
// queue exactly once. (Under -race 50,000, -short 20,000: the race
// detector slows the server child about fivefold.)
func TestKill9WhileStreamingLosesNoAcknowledgedTask(t *testing.T) {
	n, batch := 100000, 1000
	if raceEnabled {
		n = 50000
	}
	if testing.Short() {
		n = 20000
	}
	dir := t.TempDir()
	tokens, data := writeTokens(t, dir), filepath.Join(dir, "data")
	srv := startChild(t, "127.0.0.1:0", data, tokens)
	addr := srv.addr
	q, err := upstream.OpenHTTP("http://"+addr, upstream.HTTPOptions{Token: tokSubmit, RetryFor: 2 * time.Minute,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 100 * time.Millisecond, Timeout: time.Minute,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	all := specs("k", n)
	acked := make(chan int, n/batch)
	failed := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		defer close(acked)
		for i := 0; i < n; i += batch {
			rep, err := q.Submit(ctx, all[i:i+batch])
			if err == nil && (rep.Accepted != batch || len(rep.Rejected) > 0) {
				err = fmt.Errorf("batch at %d: %+v", i, rep)
			}
			if err != nil {
				failed <- err
				return
			}
			acked <- i + batch
		}
	}()
	kills := []int{n * 3 / 10, n * 7 / 10}
	sent := 0
	for a := range acked {
		sent = a
		if len(kills) > 0 && a >= kills[0] {
			kills = kills[1:]
			srv.kill() // SIGKILL, in the middle of the stream
			srv = startChild(t, addr, data, tokens)
		}
	}
	select {
	case err := <-failed:
		t.Fatalf("client gave up: %v", err)
	default:
	}
	if sent != n {
		t.Fatalf("stream ended at %d of %d", sent, n)
	}
	// Kill once more right after the last acknowledgement.
	srv.kill()
	srv = startChild(t, addr, data, tokens)

	p := client(t, "http://"+addr, tokPilot)
	st, err := p.Status(ctx)
	if err != nil || st.Pending != n {
		t.Fatalf("status after restarts: %+v %v; want %d pending", st, err, n)
	}
	seen := make(map[string]bool, n)
	for {
		ls, err := p.Lease(ctx, upstream.LeaseRequest{Cluster: "check", MaxTasks: MaxLeaseTasks, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) == 0 {
			break
		}
		for _, l := range ls {
			if seen[l.Spec.ID] {
				t.Fatalf("task %s is in the queue twice", l.Spec.ID)
			}
			seen[l.Spec.ID] = true
		}
	}
	for _, s := range all {
		if !seen[s.ID] {
			t.Fatalf("acknowledged task %s is lost", s.ID)
		}
	}
	srv.kill()
	s, err := OpenStore(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkInvariants(t, s)
}
