package pilot

import (
	"context"
	"runtime"
	"testing"
)

// TestCoreQueueGrantsInOrderAndBackfills: freed cores go to the earliest
// waiter that fits; a later narrow attempt goes ahead of an earlier wide
// one only while the wide one does not fit.
func TestCoreQueueGrantsInOrderAndBackfills(t *testing.T) {
	cores, err := NewCores(4, []int{0, 1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	q := &coreQueue{cores: cores}
	ctx := context.Background()
	for _, o := range []string{"r1", "r2", "r3"} {
		if _, err := q.acquire(ctx, o, 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	// One core is free. In order: a wide one (2), then narrow ones.
	got := make(chan string, 4)
	wait := func(owner string, seq uint64, k int) {
		go func() {
			if _, err := q.acquire(ctx, owner, seq, k); err != nil {
				got <- "error " + err.Error()
				return
			}
			got <- owner
		}()
	}
	wait("wide", 1, 2)
	waitQueued(t, q, 1)
	wait("narrow2", 2, 1)
	if g := <-got; g != "narrow2" {
		t.Fatalf("the free core went to %s, want the narrow attempt that fits (backfill)", g)
	}
	wait("narrow3", 3, 1)
	waitQueued(t, q, 2)
	q.release("r1") // one free: wide still does not fit, narrow3 does
	if g := <-got; g != "narrow3" {
		t.Fatalf("got %s, want narrow3", g)
	}
	q.release("r2")
	q.release("r3") // two free: the wide one is first in order
	if g := <-got; g != "wide" {
		t.Fatalf("got %s, want the wide attempt, first in order", g)
	}
	wait("narrow4", 4, 1)
	waitQueued(t, q, 1)
	q.release("narrow2")
	if g := <-got; g != "narrow4" {
		t.Fatalf("got %s, want narrow4", g)
	}
}

// TestCoreQueueCancelledWaiterLeaves: a waiter whose context ends takes
// no cores, and the next one gets them.
func TestCoreQueueCancelledWaiterLeaves(t *testing.T) {
	cores, err := NewCores(1, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	q := &coreQueue{cores: cores}
	if _, err := q.acquire(context.Background(), "holder", 0, 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := q.acquire(ctx, "gone", 1, 1); errc <- err }()
	waitQueued(t, q, 1)
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("a cancelled waiter got cores")
	}
	next := make(chan error, 1)
	go func() { _, err := q.acquire(context.Background(), "next", 2, 1); next <- err }()
	waitQueued(t, q, 1)
	q.release("holder")
	if err := <-next; err != nil {
		t.Fatal(err)
	}
	if _, held := cores.Held("gone"); held {
		t.Fatal("the cancelled waiter holds cores")
	}
}

// waitQueued waits until n attempts wait in q (they register before they
// block, so this is the event the test needs, not a guess of time).
func waitQueued(t *testing.T, q *coreQueue, n int) {
	t.Helper()
	for {
		q.mu.Lock()
		k := len(q.waiting)
		q.mu.Unlock()
		if k == n {
			return
		}
		if k > n {
			t.Fatalf("%d waiting, want %d", k, n)
		}
		runtime.Gosched()
	}
}
