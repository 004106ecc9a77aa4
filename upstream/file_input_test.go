package upstream

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// garbage is a line that is not a task, of a few kinds.
func garbage(i int) string {
	switch i % 4 {
	case 0:
		return `{"id":"g` + fmt.Sprint(i) + `","cmd":["x"`
	case 1:
		return `{"id":"g` + fmt.Sprint(i) + `","cmd":["x"],"coress":2}`
	case 2:
		return `not json at all`
	default:
		return taskLine(0) // a repeated id: the first line wins
	}
}

// 1% garbage among 10k lines, leased by two clusters at once: every good
// line is leased exactly once, every bad one is a failed result naming its
// line, and no task is ever leased to both.
func TestFileGarbageTwoClusters(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "tasks.jsonl")
	var w bufWriter
	bad := map[int]bool{} // line numbers
	good := 0
	for i := 0; i < 10000; i++ {
		if i%100 == 37 {
			w.line(garbage(i))
			bad[i+1] = true
			continue
		}
		w.line(taskLine(i))
		good++
	}
	os.WriteFile(path, w.b, 0o600)
	q := openQ(t, path, c)

	var mu sync.Mutex
	leasedBy := map[string]string{}
	var wg sync.WaitGroup
	for _, cl := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ls, err := q.Lease(ctx, LeaseRequest{Cluster: cl, MaxTasks: 97, TTL: time.Hour})
				if err != nil {
					t.Error(err)
					return
				}
				if len(ls) == 0 {
					return
				}
				mu.Lock()
				for _, l := range ls {
					if other, twice := leasedBy[l.Spec.ID]; twice {
						t.Errorf("%s leased to %s and %s", l.Spec.ID, other, cl)
					}
					leasedBy[l.Spec.ID] = cl
				}
				mu.Unlock()
				// Complete every other batch's tasks, so leases and results mix.
				if len(ls)%2 == 1 {
					if _, err := q.Complete(ctx, cl, done(specIDs(ls)...)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(leasedBy) != good {
		t.Fatalf("%d tasks leased, %d good lines", len(leasedBy), good)
	}
	failed := map[int]bool{}
	for _, r := range readResults(t, q) {
		if r.State != task.StateFailed {
			continue
		}
		if !bad[r.Line] || r.ID != badLineID(r.Line) || !strings.HasPrefix(r.Error, fmt.Sprintf("%s:%d: ", path, r.Line)) {
			t.Fatalf("failed result %+v", r)
		}
		failed[r.Line] = true
	}
	if len(failed) != len(bad) {
		t.Fatalf("%d bad lines, %d failed results", len(bad), len(failed))
	}
	s := checkInvariants(t, q, 10000)
	if s.Failed != len(bad) || s.Pending != 0 {
		t.Fatalf("status %+v", s)
	}
}

// Lines appended by hand while a cluster leases, some written in two
// pieces: a partial last line is never read until its newline is there, and
// every line is leased exactly once.
func TestFileConcurrentAppendsPartialLine(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "tasks.jsonl")
	q := openQ(t, path, c)

	// One line in two pieces, in plain sequence first.
	line := taskLine(-1)
	appendRaw(t, path, line[:10])
	if ls, _ := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 10, TTL: time.Hour}); len(ls) != 0 {
		t.Fatalf("leased %v from a partial line", specIDs(ls))
	}
	if s := checkInvariants(t, q, 0); s.Pending != 0 {
		t.Fatalf("a partial line counted: %+v", s)
	}
	appendRaw(t, path, line[10:]+"\n")
	if ls, _ := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 10, TTL: time.Hour}); len(specIDs(ls)) != 1 {
		t.Fatalf("leased %v once the line was complete", specIDs(ls))
	}

	// Now four writers append at once while a cluster leases. Most lines
	// go in one write each (O_APPEND); every tenth goes in two pieces with
	// a lease in between, as a slow 'echo >>' would, under a lock so that
	// no other writer's line lands inside it.
	const writers, per = 4, 250
	leasedCh := make(chan []string, 2*writers*per+2)
	var pieceMu sync.RWMutex
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				l := taskLine(w*per + i)
				if i%10 != 0 {
					pieceMu.RLock()
					appendRaw(t, path, l+"\n")
					pieceMu.RUnlock()
					continue
				}
				pieceMu.Lock()
				appendRaw(t, path, l[:len(l)/2])
				ls, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 1000, TTL: time.Hour})
				if err != nil {
					t.Error(err)
				}
				for _, x := range ls {
					if x.Spec.ID == taskID(w*per+i) {
						t.Errorf("%s leased while half written", x.Spec.ID)
					}
				}
				leasedCh <- specIDs(ls)
				appendRaw(t, path, l[len(l)/2:]+"\n")
				pieceMu.Unlock()
			}
		}()
	}
	stop := make(chan struct{})
	leaserDone := make(chan struct{})
	go func() { // the cluster, leasing all the while
		defer close(leaserDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			ls, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 50, TTL: time.Hour})
			if err != nil {
				t.Error(err)
				return
			}
			if len(ls) > 0 {
				leasedCh <- specIDs(ls)
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-leaserDone
	leasedCh <- leaseAll(t, q, "a", 1000)
	close(leasedCh)
	seen := map[string]int{}
	for ids := range leasedCh {
		for _, id := range ids {
			seen[id]++
		}
	}
	if len(seen) != writers*per {
		t.Fatalf("%d tasks leased, %d appended", len(seen), writers*per)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s leased %d times", id, n)
		}
	}
	checkInvariants(t, q, writers*per+1)
}
