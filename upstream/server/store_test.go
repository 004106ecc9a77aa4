package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

var bg = context.Background()

func done(id string) task.Result {
	return task.Result{ID: id, State: task.StateDone, Attempts: 1}
}

func mustSubmit(t *testing.T, q upstream.Queue, s []task.Spec) {
	t.Helper()
	rep, err := q.Submit(bg, s)
	if err != nil || rep.Accepted != len(s) || len(rep.Rejected) > 0 {
		t.Fatalf("submit: %+v, %v", rep, err)
	}
}

func TestTwoClustersLeasingConcurrentlyNeverShareATask(t *testing.T) {
	s := openTestStore(t, nil)
	const n = 3000
	mustSubmit(t, s, specs("t", n))
	var mu sync.Mutex
	owner := map[string]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, cluster := range []string{"site-a", "site-b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ls, err := s.Lease(bg, upstream.LeaseRequest{Cluster: cluster, MaxTasks: 37, TTL: time.Hour})
				if err != nil {
					errs <- err
					return
				}
				if len(ls) == 0 {
					return
				}
				mu.Lock()
				for _, l := range ls {
					if prev, ok := owner[l.Spec.ID]; ok {
						errs <- fmt.Errorf("%s leased to %s and %s", l.Spec.ID, prev, cluster)
					}
					owner[l.Spec.ID] = cluster
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(owner) != n {
		t.Fatalf("%d tasks leased, want %d", len(owner), n)
	}
	st, err := s.Status(bg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leased != n || st.Pending != 0 || st.LeasedBy["site-a"]+st.LeasedBy["site-b"] != n || st.LeasedBy["site-a"] == 0 || st.LeasedBy["site-b"] == 0 {
		t.Fatalf("status %+v", st)
	}
	checkInvariants(t, s)
}

func TestExpiredLeaseReturnsTaskToAnotherCluster(t *testing.T) {
	clk := newClock()
	s := openTestStore(t, clk.Now)
	mustSubmit(t, s, specs("t", 5))
	a, err := s.Lease(bg, upstream.LeaseRequest{Cluster: "a", MaxTasks: 3, TTL: 10 * time.Second})
	if err != nil || len(a) != 3 {
		t.Fatalf("lease a: %d, %v", len(a), err)
	}
	clk.Advance(5 * time.Second)
	if lost, err := s.Renew(bg, "a", []string{a[0].Spec.ID}, 10*time.Second); err != nil || len(lost) != 0 {
		t.Fatalf("renew: lost %v, %v", lost, err)
	}
	clk.Advance(6 * time.Second) // a[1], a[2] expired; a[0] renewed until 15s
	b, err := s.Lease(bg, upstream.LeaseRequest{Cluster: "b", MaxTasks: 10, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, l := range b {
		got[l.Spec.ID] = true
	}
	if len(b) != 4 || !got[a[1].Spec.ID] || !got[a[2].Spec.ID] || got[a[0].Spec.ID] {
		t.Fatalf("b leased %v; want the two expired and the two never leased", got)
	}
	// The expired tasks went back to their place at the front of the FIFO.
	if b[0].Spec.ID != a[1].Spec.ID || b[1].Spec.ID != a[2].Spec.ID {
		t.Fatalf("order %s %s, want %s %s first", b[0].Spec.ID, b[1].Spec.ID, a[1].Spec.ID, a[2].Spec.ID)
	}
	lost, err := s.Renew(bg, "a", []string{a[0].Spec.ID, a[1].Spec.ID}, time.Minute)
	if err != nil || len(lost) != 1 || lost[0] != a[1].Spec.ID {
		t.Fatalf("renew after expiry: lost %v, %v", lost, err)
	}
	checkInvariants(t, s)
	clk.Advance(time.Hour)
	if err := s.Reap(bg); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Status(bg)
	if st.Pending != 5 || st.Leased != 0 || len(st.LeasedBy) != 0 {
		t.Fatalf("after every lease expired: %+v", st)
	}
	checkInvariants(t, s)
}

func TestResultAcceptedOnceDuplicatesCounted(t *testing.T) {
	clk := newClock()
	s := openTestStore(t, clk.Now)
	mustSubmit(t, s, specs("t", 2))
	if _, err := s.Lease(bg, upstream.LeaseRequest{Cluster: "a", MaxTasks: 2, TTL: time.Second}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	if _, err := s.Lease(bg, upstream.LeaseRequest{Cluster: "b", MaxTasks: 2, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	// Both clusters ran t-000000; the late one from a is as good as b's.
	rep, err := s.Complete(bg, "a", []task.Result{done("t-000000")})
	if err != nil || rep.Accepted != 1 {
		t.Fatalf("first: %+v %v", rep, err)
	}
	rep, err = s.Complete(bg, "b", []task.Result{done("t-000000"), {ID: "t-000001", State: task.StateFailed, Error: "boom"}, done("t-000001")})
	if err != nil || rep.Accepted != 1 || len(rep.Duplicates) != 2 {
		t.Fatalf("second: %+v %v", rep, err)
	}
	res, cur, err := s.Results(bg, 0, 100)
	if err != nil || len(res) != 2 || cur != 2 {
		t.Fatalf("results %v cursor %d %v", res, cur, err)
	}
	if res[1].State != task.StateFailed {
		t.Fatalf("the first result of t-000001 was failed, got %+v", res[1])
	}
	more, cur2, err := s.Results(bg, cur, 100)
	if err != nil || len(more) != 0 || cur2 != cur {
		t.Fatalf("following at the end: %v %d %v", more, cur2, err)
	}
	st, _ := s.Status(bg)
	if st.Done != 1 || st.Failed != 1 || st.Duplicates != 2 || st.Leased != 0 {
		t.Fatalf("status %+v", st)
	}
	checkInvariants(t, s)
}

func TestFlushArchivesAndRefusesLateResults(t *testing.T) {
	s := openTestStore(t, nil)
	mustSubmit(t, s, specs("t", 10))
	if _, err := s.Complete(bg, "a", []task.Result{done("t-000009")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lease(bg, upstream.LeaseRequest{Cluster: "a", MaxTasks: 4, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Flush(bg)
	if err != nil || rep.Pending != 5 || rep.Leased != 4 || rep.Archive == "" {
		t.Fatalf("flush %+v %v", rep, err)
	}
	st, _ := s.Status(bg)
	if st.Pending != 0 || st.Leased != 0 || st.Flushed != 9 || st.Done != 1 {
		t.Fatalf("status after flush %+v", st)
	}
	c, err := s.Complete(bg, "a", []task.Result{done("t-000000"), done("nope")})
	if err != nil || c.Accepted != 0 || len(c.Refused) != 2 {
		t.Fatalf("late results: %+v %v", c, err)
	}
	if lost, _ := s.Renew(bg, "a", []string{"t-000000"}, time.Minute); len(lost) != 1 {
		t.Fatalf("renew of a flushed lease: lost %v", lost)
	}
	if ls, _ := s.Lease(bg, upstream.LeaseRequest{Cluster: "a", MaxTasks: 100, TTL: time.Minute}); len(ls) != 0 {
		t.Fatalf("leased %d flushed tasks", len(ls))
	}
	arch, next, err := s.Archive(1, 0, 100)
	if err != nil || len(arch) != 9 || next == 0 {
		t.Fatalf("archive of epoch 1: %d tasks, next %d, %v", len(arch), next, err)
	}
	for i, line := range arch {
		if sp, err := task.Parse(line); err != nil || sp.ID != fmt.Sprintf("t-%06d", i) {
			t.Fatalf("archive line %d: %s %v", i, line, err)
		}
	}
	if more, _, _ := s.Archive(1, next, 100); len(more) != 0 {
		t.Fatalf("archive goes on after its end: %d", len(more))
	}
	if _, _, err := s.Archive(2, 0, 100); !errors.Is(err, upstream.ErrBadRequest) {
		t.Fatalf("archive of the current epoch: %v", err)
	}
	if fl, err := s.Flushes(); err != nil || len(fl) != 1 || fl[0].Pending != 5 || fl[0].Leased != 4 {
		t.Fatalf("flushes %+v %v", fl, err)
	}
	// A flushed id may be submitted again; a finished one keeps its result.
	mustSubmit(t, s, specs("t", 10))
	st, _ = s.Status(bg)
	if st.Pending != 9 || st.Done != 1 {
		t.Fatalf("after resubmission %+v", st)
	}
	checkInvariants(t, s)
}

func TestSubmitSameTaskTwiceIsOneTaskDifferentTaskRefused(t *testing.T) {
	s := openTestStore(t, nil)
	mustSubmit(t, s, specs("t", 3))
	mustSubmit(t, s, specs("t", 3))
	other := specs("t", 1)
	other[0].Cmd = []string{"rm", "-rf"}
	rep, err := s.Submit(bg, append(specs("u", 1), other[0], task.Spec{ID: "../../etc/passwd", Cmd: []string{"x"}}))
	if err != nil || rep.Accepted != 1 || len(rep.Rejected) != 2 {
		t.Fatalf("%+v %v", rep, err)
	}
	if rep.Rejected[0].Index != 2 || rep.Rejected[1].Index != 1 || rep.Rejected[1].ID != "t-000000" {
		t.Fatalf("rejections %+v", rep.Rejected)
	}
	st, _ := s.Status(bg)
	if st.Pending != 4 {
		t.Fatalf("pending %d, want 4", st.Pending)
	}
	checkInvariants(t, s)
}

func TestLeaseMaxCoresAndRelease(t *testing.T) {
	s := openTestStore(t, nil)
	in := specs("t", 4)
	in[0].Cores, in[1].Cores, in[2].Cores, in[3].Cores = 4, 8, 2, 2
	mustSubmit(t, s, in)
	ls, err := s.Lease(bg, upstream.LeaseRequest{Cluster: "a", MaxTasks: 10, MaxCores: 8, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range ls {
		ids = append(ids, l.Spec.ID)
	}
	if fmt.Sprint(ids) != "[t-000000 t-000002 t-000003]" {
		t.Fatalf("leased %v within 8 cores", ids)
	}
	if err := s.Release(bg, "b", ids); err != nil { // not b's: ignored
		t.Fatal(err)
	}
	if err := s.Release(bg, "a", ids[:2]); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Status(bg)
	if st.Pending != 3 || st.Leased != 1 || st.LeasedBy["a"] != 1 {
		t.Fatalf("after release %+v", st)
	}
	checkInvariants(t, s)
}

func TestRefusesBadRequestsAndStoresNothing(t *testing.T) {
	s := openTestStore(t, nil)
	cases := map[string]error{}
	_, cases["cluster"] = s.Lease(bg, upstream.LeaseRequest{Cluster: "../x", MaxTasks: 1, TTL: time.Second})
	_, cases["max_tasks"] = s.Lease(bg, upstream.LeaseRequest{Cluster: "a", MaxTasks: 0, TTL: time.Second})
	_, cases["ttl"] = s.Lease(bg, upstream.LeaseRequest{Cluster: "a", MaxTasks: 1})
	_, cases["result id"] = s.Complete(bg, "a", []task.Result{done("../../etc/passwd")})
	_, cases["result state"] = s.Complete(bg, "a", []task.Result{{ID: "a", State: "ok"}})
	for name, err := range cases {
		if !errors.Is(err, upstream.ErrBadRequest) {
			t.Errorf("%s: %v, want ErrBadRequest", name, err)
		}
	}
	st, _ := s.Status(bg)
	if st.Pending+st.Leased+st.Done+st.Failed+st.Flushed+st.Duplicates+len(st.LeasedBy) != 0 {
		t.Fatalf("something was stored: %+v", st)
	}
}

func TestStateSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustSubmit(t, s, specs("t", 20))
	if _, err := s.Lease(bg, upstream.LeaseRequest{Cluster: "a", MaxTasks: 5, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Complete(bg, "a", []task.Result{done("t-000001")}); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(dir, nil); err == nil {
		t.Fatal("a second open of the same data directory succeeded")
	}
	s.Close()
	s, err = OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, _ := s.Status(bg)
	if st.Pending != 15 || st.Leased != 4 || st.Done != 1 {
		t.Fatalf("after reopen %+v", st)
	}
	checkInvariants(t, s)
}

func TestResultsWaitWakesOnComplete(t *testing.T) {
	s := openTestStore(t, nil)
	mustSubmit(t, s, specs("t", 1))
	got := make(chan int, 1)
	go func() {
		raw, _, _ := s.ResultsRaw(bg, 0, 10, time.Minute)
		got <- len(raw)
	}()
	if _, err := s.Complete(bg, "a", []task.Result{done("t-000000")}); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != 1 {
		t.Fatalf("waiting follower got %d results", n)
	}
}

func TestStopWaitingEndsLongPolls(t *testing.T) {
	s := openTestStore(t, nil)
	got := make(chan error, 1)
	go func() {
		_, _, err := s.ResultsRaw(bg, 0, 10, time.Hour)
		got <- err
	}()
	s.StopWaiting()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

func TestLateResultOfAReturnedTaskIsAccepted(t *testing.T) {
	clk := newClock()
	s := openTestStore(t, clk.Now)
	mustSubmit(t, s, specs("t", 2))
	if _, err := s.Lease(bg, upstream.LeaseRequest{Cluster: "a", MaxTasks: 1, TTL: time.Second}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	if err := s.Reap(bg); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Complete(bg, "a", []task.Result{done("t-000000")})
	if err != nil || rep.Accepted != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	ls, err := s.Lease(bg, upstream.LeaseRequest{Cluster: "b", MaxTasks: 10, TTL: time.Minute})
	if err != nil || len(ls) != 1 || ls[0].Spec.ID != "t-000001" {
		t.Fatalf("the finished task is still leasable: %v %v", ls, err)
	}
	checkInvariants(t, s)
}
