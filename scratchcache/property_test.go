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
			maxTaken    = 0  // newest attempt that ever took the lease
			published   = 0  // attempt whose seal is visible
			silent      bool // the published seal is a silent one (a hit does not say whose)
		)
		// sealedBy checks that s, found or returned after a publish, is
		// the published seal.
		sealedBy := func(rt *rapid.T, s *Sealed) {
			if published == 0 || s.Silent() != silent || !silent && s.Attempt != published {
				rt.Fatalf("got the seal of attempt %d (silent %v); published: attempt %d (silent %v)", s.Attempt, s.Silent(), published, silent)
			}
		}
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
					sealedBy(rt, s)
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
				// The three forms of a seal: a directory of kept files,
				// the manifest alone, or silent (no value, no file).
				file := rapid.Bool().Draw(rt, "with a file")
				value := []byte(`1`)
				if rapid.Bool().Draw(rt, "no value") {
					value = nil
				}
				if file {
					if err := os.MkdirAll(l.OutDir(), 0o755); err != nil {
						rt.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(l.OutDir(), "out"), []byte("x"), 0o644); err != nil {
						rt.Fatal(err)
					}
				}
				// (An attempt's OutDir is shared by its leases: another
				// lease of the attempt may have left a file there.)
				ents, _ := os.ReadDir(l.OutDir())
				s, err := l.Seal(context.Background(), value)
				switch {
				case err == nil && s.Attempt == l.attempt:
					if published != 0 {
						rt.Fatalf("attempt %d sealed over attempt %d's seal", l.attempt, published)
					}
					if l.attempt < maxTaken {
						rt.Fatalf("attempt %d sealed after attempt %d took over", l.attempt, maxTaken)
					}
					published, silent = l.attempt, s.Silent()
					if silent != (value == nil && len(ents) == 0) {
						rt.Fatalf("attempt %d sealed silent %v with value %q and %d files", l.attempt, silent, value, len(ents))
					}
				case err == nil:
					sealedBy(rt, s)
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
