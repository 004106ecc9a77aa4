package scratchcache

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"pgregory.net/rapid"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pilot-hpc/pilot/scratchcache/stage"
	"github.com/pilot-hpc/pilot/task"
)

// Two attempts of one task at once: exactly one writes, the other is fenced.
func TestTwoAttemptsOneWritesOtherFenced(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	clk := newClock()
	nodeA := newTestCache(t, root, clk, nil)
	nodeB := newTestCache(t, root, clk, nil)
	d := specDigest("mol-7")

	l1 := mustOpenLease(t, nodeA, "mol-7", d, 1)
	writeFile(t, filepath.Join(l1.WorkDir(), "ckpt"), []byte("step 1 by attempt 1"))

	// Attempt 2 while attempt 1 is live: held, with when it goes stale.
	_, _, err := nodeB.Open("mol-7", d, 2)
	var held *HeldError
	if !errors.As(err, &held) || held.Attempt != 1 || !held.StaleAt.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("want HeldError by attempt 1, got %v", err)
	}

	// Attempt 1 renews, time passes but not a TTL: still held.
	clk.Advance(50 * time.Second)
	if err := l1.Renew(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(50 * time.Second)
	if _, _, err := nodeB.Open("mol-7", d, 2); !errors.Is(err, ErrHeld) {
		t.Fatalf("a renewed lease was taken over: %v", err)
	}

	// Attempt 1's node goes silent past the TTL: attempt 2 takes over and
	// finds attempt 1's checkpoint.
	clk.Advance(time.Minute)
	l2 := mustOpenLease(t, nodeB, "mol-7", d, 2)
	if b, err := os.ReadFile(filepath.Join(l2.WorkDir(), "ckpt")); err != nil || string(b) != "step 1 by attempt 1" {
		t.Fatalf("attempt 2 does not see the checkpoint: %q %v", b, err)
	}

	// The stale attempt wakes up: it can neither renew, nor seal, nor
	// come back in.
	if err := l1.Renew(); !errors.Is(err, ErrFenced) {
		t.Fatalf("stale Renew: want ErrFenced, got %v", err)
	}
	writeFile(t, filepath.Join(l1.OutDir(), "from-attempt-1"), []byte("stale"))
	if _, err := l1.Seal(ctx, []byte(`"stale"`)); !errors.Is(err, ErrFenced) {
		t.Fatalf("stale Seal: want ErrFenced, got %v", err)
	}
	if _, _, err := nodeA.Open("mol-7", d, 1); !errors.Is(err, ErrFenced) {
		t.Fatalf("stale Open: want ErrFenced, got %v", err)
	}
	if err := l1.Release(); err != nil {
		t.Fatalf("a stale Release must not touch the new lease: %v", err)
	}

	s, err := l2.Seal(ctx, []byte(`"fresh"`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Attempt != 2 || string(s.Value) != `"fresh"` {
		t.Fatalf("sealed %+v", s.Manifest)
	}
	if len(s.Files) != 0 {
		t.Fatalf("the fenced attempt's output leaked into the seal: %+v", s.Files)
	}
	hit := mustHit(t, nodeA, "mol-7", d, 3)
	if hit.Attempt != 2 {
		t.Fatalf("hit sealed by attempt %d", hit.Attempt)
	}
}

// Many racers for one entry (duplicated assignments of one attempt, and
// several attempts): never two holders, and exactly one seal.
func TestRacingAttemptsNeverTwoHolders(t *testing.T) {
	root := t.TempDir()
	clk := newClock()
	d := specDigest("race")
	const racers = 8
	var wg sync.WaitGroup
	leases := make(chan *Lease, racers)
	for i := 0; i < racers; i++ {
		c := newTestCache(t, root, clk, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, l, err := c.Open("race", d, 1)
			switch {
			case err == nil:
				leases <- l
			case errors.Is(err, ErrHeld):
			default:
				t.Errorf("racer: %v", err)
			}
		}()
	}
	wg.Wait()
	close(leases)
	var got []*Lease
	for l := range leases {
		got = append(got, l)
	}
	if len(got) != 1 {
		t.Fatalf("%d racers hold attempt 1, want exactly 1", len(got))
	}

	// Now attempts 2..9 race after attempt 1 went stale: the newest one
	// present when each checks wins; every loser is held or fenced, and
	// exactly one of the winners seals.
	clk.Advance(2 * time.Minute)
	leases = make(chan *Lease, racers)
	for i := 0; i < racers; i++ {
		c := newTestCache(t, root, clk, nil)
		wg.Add(1)
		go func(attempt int) {
			defer wg.Done()
			_, l, err := c.Open("race", d, attempt)
			switch {
			case err == nil:
				leases <- l
			case errors.Is(err, ErrHeld), errors.Is(err, ErrFenced):
			default:
				t.Errorf("attempt %d: %v", attempt, err)
			}
		}(i + 2)
	}
	wg.Wait()
	close(leases)
	// A loser is fenced, or (once the winner sealed and left) finds the
	// winner's entry and gets it back: it never publishes its own.
	published := 0
	for l := range leases {
		s, err := l.Seal(context.Background(), []byte(`1`))
		switch {
		case err == nil && s.Attempt == l.Attempt():
			published++
		case err == nil:
		case !errors.Is(err, ErrFenced):
			t.Fatalf("seal by attempt %d: %v", l.Attempt(), err)
		}
	}
	if published != 1 {
		t.Fatalf("%d attempts published a seal, want exactly 1", published)
	}
	if err := got[0].Renew(); !errors.Is(err, ErrFenced) {
		t.Fatalf("attempt 1 after the takeover: want ErrFenced, got %v", err)
	}
}

func TestReleaseKeepsWorkForTheRetry(t *testing.T) {
	clk := newClock()
	c := newTestCache(t, t.TempDir(), clk, nil)
	d := specDigest("rel")
	l := mustOpenLease(t, c, "rel", d, 1)
	writeFile(t, filepath.Join(l.WorkDir(), "ckpt"), []byte("3"))
	writeFile(t, filepath.Join(l.OutDir(), "partial.out"), []byte("half"))
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.OutDir()); !os.IsNotExist(err) {
		t.Fatalf("a released attempt's outputs were kept: %v", err)
	}
	// No waiting for a TTL after a release.
	l2 := mustOpenLease(t, c, "rel", d, 2)
	if b, _ := os.ReadFile(filepath.Join(l2.WorkDir(), "ckpt")); string(b) != "3" {
		t.Fatalf("checkpoint lost on release: %q", b)
	}
	if !l.FreshWorkDir() || l2.FreshWorkDir() {
		t.Fatalf("fresh work directory: first attempt %v, the retry in its work/ %v", l.FreshWorkDir(), l2.FreshWorkDir())
	}
	if _, err := l.Seal(context.Background(), nil); !errors.Is(err, ErrFenced) {
		t.Fatalf("Seal after Release: want ErrFenced, got %v", err)
	}
	// A released newer attempt still fences an older one coming back.
	if err := l2.Release(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Open("rel", d, 1); !errors.Is(err, ErrFenced) {
		t.Fatalf("attempt 1 after attempt 2 released: want ErrFenced, got %v", err)
	}
	mustOpenLease(t, c, "rel", d, 3).Release()
}

// Keep renews while the task runs (in fake time), so no other attempt can
// take over; once the holder stops renewing, a newer attempt takes over and
// Keep of the old one reports the fence.
func TestKeepRenewsUntilFenced(t *testing.T) {
	root := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		nodeB, d, l1 := twoNodes(t, root, "keep")
		ctx, stop := context.WithCancel(t.Context())
		kept := make(chan error, 1)
		go func() { kept <- l1.Keep(ctx) }()

		time.Sleep(10 * time.Minute) // fake time: Keep renews every 20s
		if _, _, err := nodeB.Open("keep", d, 2); !errors.Is(err, ErrHeld) {
			t.Fatalf("a kept lease was taken over after 10 minutes: %v", err)
		}
		stop()
		if err := <-kept; err != nil {
			t.Fatalf("Keep after cancel: %v", err)
		}

		// The holder stops renewing (say its node froze) and later resumes.
		ctx2, stop2 := context.WithCancel(t.Context())
		defer stop2()
		time.Sleep(2 * time.Minute)
		_, l2, err := nodeB.Open("keep", d, 2)
		if err != nil {
			t.Fatalf("a stale lease was not taken over: %v", err)
		}
		go func() { kept <- l1.Keep(ctx2) }()
		if err := <-kept; !errors.Is(err, ErrFenced) {
			t.Fatalf("Keep of the fenced attempt: want ErrFenced, got %v", err)
		}
		if err := l2.Release(); err != nil {
			t.Fatal(err)
		}
	})
}

// Keep beside a Seal: it ends quietly once its own attempt sealed.
func TestKeepEndsAfterSeal(t *testing.T) {
	root := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Config{Root: root, Logger: quietLogger(), LeaseTTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		_, l, err := c.Open("sealed", specDigest("sealed"), 1)
		if err != nil {
			t.Fatal(err)
		}
		kept := make(chan error, 1)
		go func() { kept <- l.Keep(t.Context()) }()
		time.Sleep(time.Minute)
		if _, err := l.Seal(context.Background(), []byte(`1`)); err != nil {
			t.Fatal(err)
		}
		if err := <-kept; err != nil {
			t.Fatalf("Keep after the seal: %v", err)
		}
	})
}

// slowStore holds every Put until release is closed.
type slowStore struct {
	stage.Store
	entered chan struct{}
	release chan struct{}
}

func (s *slowStore) Put(ctx context.Context, key string, r io.Reader, size int64, sum string) (task.Output, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.Store.Put(ctx, key, r, size, sum)
}

// An upload longer than the lease's TTL: Keep goes on renewing while Seal
// runs, so no other attempt takes the entry over, and the seal lands.
func TestKeepRenewsDuringALongSeal(t *testing.T) {
	root := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		files, err := stage.FileStore(filepath.Join(root, "results"))
		if err != nil {
			t.Fatal(err)
		}
		slow := &slowStore{Store: files, entered: make(chan struct{}), release: make(chan struct{})}
		nodeB, d, l := twoNodesWith(t, Config{Root: root, Store: slow, Logger: quietLogger(), LeaseTTL: time.Minute}, "long")
		writeFile(t, filepath.Join(l.OutDir(), "big.out"), make([]byte, 200<<10))
		ctx, stop := context.WithCancel(t.Context())
		defer stop()
		kept := make(chan error, 1)
		go func() { kept <- l.Keep(ctx) }()
		sealed := make(chan error, 1)
		go func() {
			_, err := l.Seal(context.Background(), nil)
			sealed <- err
		}()
		<-slow.entered
		time.Sleep(10 * time.Minute) // the upload takes ten TTLs
		if _, _, err := nodeB.Open("long", d, 2); !errors.Is(err, ErrHeld) {
			t.Fatalf("the entry was taken over during a long seal: %v", err)
		}
		close(slow.release)
		if err := <-sealed; err != nil {
			t.Fatalf("seal: %v", err)
		}
		if err := <-kept; err != nil {
			t.Fatalf("Keep: %v", err)
		}
	})
}

// A seal skips the fence check only within half a TTL of the lease's last
// renewal: past it, a node whose clock runs ahead may already have taken
// the lease over (here, while the seal was being built), and the seal must
// find that out.
func TestSealChecksTheFencePastHalfATTL(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	clkA, clkB := newClock(), newClock()
	clkB.Advance(40 * time.Second) // B's clock runs 40 s ahead of A's
	var l2 *Lease
	nodeB := newTestCache(t, root, clkB, nil)
	nodeA := newTestCache(t, root, clkA, func(cfg *Config) {
		cfg.hooks.beforePublish = func() { l2 = mustOpenLease(t, nodeB, "mol-9", specDigest("mol-9"), 2) }
	})
	d := specDigest("mol-9")

	l1 := mustOpenLease(t, nodeA, "mol-9", d, 1)
	clkA.Advance(35 * time.Second) // past half the TTL of A's lease
	clkB.Advance(35 * time.Second) // B sees it 75 s old: stale
	if _, err := l1.Seal(ctx, nil); !errors.Is(err, ErrFenced) {
		t.Fatalf("seal of a lease taken over: want ErrFenced, got %v", err)
	}
	if _, err := l2.Seal(ctx, []byte(`"b"`)); err != nil {
		t.Fatal(err)
	}
	if hit := mustHit(t, nodeA, "mol-9", d, 3); hit.Attempt != 2 {
		t.Fatalf("hit sealed by attempt %d, want 2", hit.Attempt)
	}
}

// A lease record encodes byte for byte as encoding/json encodes it, and
// reads back whole: plain and odd host names, released or not, zero and
// far times.
func TestRecordBytesAreJSON(t *testing.T) {
	at := time.Date(2026, 11, 29, 8, 0, 0, 123456789, time.UTC)
	for _, rec := range []leaseRecord{
		{Task: "t-1.a_b", Attempt: 1, Owner: "node17:4242:00ff00ff00ff00ff", Acquired: at, Renewed: at.Add(time.Minute)},
		{Task: "x", Attempt: 1234567, Owner: `h<o>s&t"\` + "\u00e9\x01:1:2", Acquired: at.In(time.FixedZone("X", 3600)), Renewed: at, Released: true},
		{},
	} {
		want, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := recordBytes(rec)
		if err != nil || string(got) != string(want) {
			t.Fatalf("recordBytes(%+v) = %s, %v; encoding/json gives %s", rec, got, err, want)
		}
		var back leaseRecord
		if err := json.Unmarshal(got, &back); err != nil || back.Owner != rec.Owner || !back.Renewed.Equal(rec.Renewed) {
			t.Fatalf("read back %+v, %v", back, err)
		}
	}
	if _, err := recordBytes(leaseRecord{Renewed: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Fatal("a year past 9999 encoded; encoding/json refuses it")
	}
}

// Any owner and task string encodes as encoding/json encodes it.
func TestRecordBytesAreJSONForAnyString(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		rec := leaseRecord{
			Task:     rapid.String().Draw(rt, "task"),
			Attempt:  rapid.IntRange(0, 1<<30).Draw(rt, "attempt"),
			Owner:    rapid.String().Draw(rt, "owner"),
			Acquired: time.Unix(rapid.Int64Range(0, 1<<34).Draw(rt, "s"), rapid.Int64Range(0, 999999999).Draw(rt, "ns")).UTC(),
			Released: rapid.Bool().Draw(rt, "released"),
		}
		want, _ := json.Marshal(rec)
		if got, err := recordBytes(rec); err != nil || string(got) != string(want) {
			rt.Fatalf("recordBytes = %s, %v; encoding/json gives %s", got, err, want)
		}
	})
}

// KeepLazily renews like Keep once the first renewal is due, stops when
// told, and reports a lease lost to a newer attempt.
func TestKeepLazily(t *testing.T) {
	root := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		nodeB, d, l1 := twoNodes(t, root, "lazy")
		lost := make(chan error, 1)
		stop := l1.KeepLazily(t.Context(), func(err error) { lost <- err })
		time.Sleep(10 * time.Minute) // fake time: renewed every 20s
		if _, _, err := nodeB.Open("lazy", d, 2); !errors.Is(err, ErrHeld) {
			t.Fatalf("a lease kept lazily was taken over after 10 minutes: %v", err)
		}
		stop()
		time.Sleep(2 * time.Minute)
		_, l2, err := nodeB.Open("lazy", d, 2)
		if err != nil {
			t.Fatalf("a lease no longer kept was not taken over: %v", err)
		}
		stop = l1.KeepLazily(t.Context(), func(err error) { lost <- err })
		defer stop()
		if err := <-lost; !errors.Is(err, ErrFenced) {
			t.Fatalf("the fenced attempt's lease: want ErrFenced, got %v", err)
		}
		select {
		case err := <-lost:
			t.Fatalf("the first KeepLazily reported %v after its stop", err)
		default:
		}
		if err := l2.Release(); err != nil {
			t.Fatal(err)
		}
	})
}

// twoNodes makes two caches on root with a one-minute LeaseTTL (call it in
// a synctest bubble) and opens id's entry for attempt 1 on the first; it
// returns the second, the digest and the lease.
func twoNodes(t *testing.T, root, id string) (*Cache, string, *Lease) {
	t.Helper()
	return twoNodesWith(t, Config{Root: root, Logger: quietLogger(), LeaseTTL: time.Minute}, id)
}

// twoNodesWith is twoNodes with caches made from cfg.
func twoNodesWith(t *testing.T, cfg Config, id string) (*Cache, string, *Lease) {
	t.Helper()
	nodeA, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nodeB, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := specDigest(id)
	_, l, err := nodeA.Open(id, d, 1)
	if err != nil {
		t.Fatal(err)
	}
	return nodeB, d, l
}
