package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// Tokens of the test token file, one per role.
const (
	tokSubmit = "submit-token-0123456789"
	tokPilot  = "pilot-token-0123456789"
	tokAdmin  = "admin-token-0123456789"
)

func writeTokens(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "tokens")
	body := fmt.Sprintf("# test tokens\nsubmit %s alice\npilot %s site-a\nadmin %s root\n", tokSubmit, tokPilot, tokAdmin)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clock is a fake clock for lease expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func openTestStore(t testing.TB, now func() time.Time) *Store {
	t.Helper()
	s, err := OpenStore(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testServer runs Run on 127.0.0.1:0 with a fresh data directory and
// returns its URL; cleanup stops it and waits for Run to return.
func testServer(t testing.TB, cfg Config) (url string) {
	t.Helper()
	dir := t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(dir, "data")
	}
	cfg.TokenFile = writeTokens(t, dir)
	addr := make(chan string, 1)
	cfg.OnListen = func(a string) { addr <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case a := <-addr:
		return "http://" + a
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	}
	return ""
}

func client(t testing.TB, url, token string) *upstream.HTTPQueue {
	t.Helper()
	q, err := upstream.OpenHTTP(url, upstream.HTTPOptions{Token: token, RetryFor: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func specs(prefix string, n int) []task.Spec {
	out := make([]task.Spec, n)
	for i := range out {
		out[i] = task.Spec{ID: fmt.Sprintf("%s-%06d", prefix, i), Cmd: []string{"echo", prefix}}
	}
	return out
}

// checkInvariants scans the whole file and compares it with the counters:
// every task is in exactly one state, the pending FIFO and the lease index
// name exactly the tasks in those states, per-cluster counts add up.
func checkInvariants(t fataler, s *Store) {
	t.Helper()
	err := s.view(func(x *txn) error {
		var pending, leased, done, failed, flushed int
		byCluster := map[string]int{}
		err := x.tasks.ForEach(func(k, v []byte) error {
			r := decodeRec(k, v)
			switch {
			case r.flushed(x.c.Epoch):
				flushed++
			case r.State == statePending:
				pending++
				if got := x.pending.Get(u64(r.Seq)); string(got) != string(k) {
					return fmt.Errorf("pending task %s: FIFO entry %d names %q", k, r.Seq, got)
				}
			case r.State == stateLeased:
				leased++
				byCluster[r.Cluster]++
				if got := x.leases.Get(leaseKey(r.Expiry, string(k))); string(got) != r.Cluster {
					return fmt.Errorf("leased task %s: lease index names %q, record %q", k, got, r.Cluster)
				}
			case r.State == stateDone:
				done++
			case r.State == stateFailed:
				failed++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n := x.pending.Stats().KeyN; n != pending {
			return fmt.Errorf("pending FIFO has %d entries, %d tasks are pending", n, pending)
		}
		if n := x.leases.Stats().KeyN; n != leased {
			return fmt.Errorf("lease index has %d entries, %d tasks are leased", n, leased)
		}
		if n := x.results.Stats().KeyN; n != done+failed {
			return fmt.Errorf("results stream has %d records, %d tasks are final", n, done+failed)
		}
		// Flushed counts tasks archived by a flush; a flushed id that was
		// submitted again is counted again, so the scan sees at most as many.
		if pending != x.c.Pending || leased != x.c.Leased || done != x.c.Done || failed != x.c.Failed || flushed > x.c.Flushed {
			return fmt.Errorf("scan pending=%d leased=%d done=%d failed=%d flushed=%d, counters %+v", pending, leased, done, failed, flushed, x.c)
		}
		err = x.leasedBy.ForEach(func(k, v []byte) error {
			if int(beUint64(v)) != byCluster[string(k)] {
				return fmt.Errorf("leasedby[%s]=%d, scan %d", k, beUint64(v), byCluster[string(k)])
			}
			delete(byCluster, string(k))
			return nil
		})
		if err == nil && len(byCluster) > 0 {
			err = fmt.Errorf("clusters with leases missing from leasedby: %v", byCluster)
		}
		return err
	})
	if err != nil {
		t.Fatalf("invariant broken: %v", err)
	}
}

// fataler is what checkInvariants needs of a *testing.T or a *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}
