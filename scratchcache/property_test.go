package scratchcache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// Random interleavings of opens (new and stale attempts), renewals, seals,
// releases and the passing of time, by three nodes on one entry, keep the
// rules of promise 7:
//   - once an attempt took the lease, no older attempt renews or seals;
//   - at most one attempt ever publishes a seal, and after it every Open
//     is a hit on that seal;
//   - Open never hands a lease to an attempt older than one that took it.
func TestLeaseRulesProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		root := t.TempDir()
		clk := newClock()
		var nodes []*Cache
		for i := 0; i < 3; i++ {
			c, err := New(Config{Root: root, Now: clk.Now, Logger: quietLogger(), LeaseTTL: time.Minute})
			if err != nil {
				rt.Fatal(err)
			}
			nodes = append(nodes, c)
		}
		d := specDigest("prop")
		var (
			leases      []*Lease
			nextAttempt = 1
			maxTaken    = 0 // newest attempt that ever took the lease
			published   = 0 // attempt whose seal is visible
		)
		pickLease := func(rt *rapid.T) *Lease {
			if len(leases) == 0 {
				rt.Skip("no lease yet")
			}
			return leases[rapid.IntRange(0, len(leases)-1).Draw(rt, "lease")]
		}
		rt.Repeat(map[string]func(*rapid.T){
			"open": func(rt *rapid.T) {
				attempt := nextAttempt
				if rapid.Bool().Draw(rt, "stale") {
					attempt = rapid.IntRange(1, nextAttempt).Draw(rt, "attempt")
				} else {
					nextAttempt++
				}
				node := nodes[rapid.IntRange(0, 2).Draw(rt, "node")]
				s, l, err := node.Open("prop", d, attempt)
				switch {
				case s != nil:
					if published == 0 || s.Attempt != published {
						rt.Fatalf("hit on a seal by attempt %d, published %d", s.Attempt, published)
					}
				case published != 0:
					rt.Fatalf("attempt %d: no hit although attempt %d sealed (lease %v, err %v)", attempt, published, l != nil, err)
				case err == nil:
					if attempt < maxTaken {
						rt.Fatalf("attempt %d took the lease after attempt %d had it", attempt, maxTaken)
					}
					maxTaken = attempt
					leases = append(leases, l)
				case errors.Is(err, ErrHeld), errors.Is(err, ErrFenced):
				default:
					rt.Fatalf("open: %v", err)
				}
			},
			"renew": func(rt *rapid.T) {
				l := pickLease(rt)
				err := l.Renew()
				if err == nil && l.attempt < maxTaken {
					rt.Fatalf("attempt %d renewed after attempt %d took over", l.attempt, maxTaken)
				}
				if err != nil && !errors.Is(err, ErrFenced) {
					rt.Fatalf("renew: %v", err)
				}
			},
			"seal": func(rt *rapid.T) {
				l := pickLease(rt)
				// Both forms of a seal: a directory of kept files, or
				// the manifest alone.
				if rapid.Bool().Draw(rt, "with a file") {
					if err := os.MkdirAll(l.OutDir(), 0o755); err != nil {
						rt.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(l.OutDir(), "out"), []byte("x"), 0o644); err != nil {
						rt.Fatal(err)
					}
				}
				s, err := l.Seal(context.Background(), []byte(`1`))
				switch {
				case err == nil && s.Attempt == l.attempt:
					if published != 0 {
						rt.Fatalf("attempt %d sealed over attempt %d's seal", l.attempt, published)
					}
					if l.attempt < maxTaken {
						rt.Fatalf("attempt %d sealed after attempt %d took over", l.attempt, maxTaken)
					}
					published = l.attempt
				case err == nil:
					if s.Attempt != published {
						rt.Fatalf("seal returned attempt %d's entry, published %d", s.Attempt, published)
					}
				case !errors.Is(err, ErrFenced):
					rt.Fatalf("seal: %v", err)
				}
			},
			"release": func(rt *rapid.T) {
				if err := pickLease(rt).Release(); err != nil {
					rt.Fatalf("release: %v", err)
				}
			},
			"time passes": func(rt *rapid.T) {
				clk.Advance(time.Duration(rapid.IntRange(0, 90).Draw(rt, "seconds")) * time.Second)
			},
		})
	})
}
