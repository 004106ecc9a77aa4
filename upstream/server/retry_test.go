package server

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

func TestRetryOverHTTP(t *testing.T) {
	ctx := context.Background()
	url := testServer(t, Config{})
	sub, pil, adm := client(t, url, tokSubmit), client(t, url, tokPilot), client(t, url, tokAdmin)
	if _, err := sub.Submit(ctx, specs("r", 5)); err != nil {
		t.Fatal(err)
	}
	ls, err := pil.Lease(ctx, upstream.LeaseRequest{Cluster: "c1", MaxTasks: 5, TTL: time.Hour})
	if err != nil || len(ls) != 5 {
		t.Fatalf("lease: %d, %v", len(ls), err)
	}
	var rs []task.Result
	for i, l := range ls {
		st := task.StateDone
		if i%2 == 0 {
			st = task.StateFailed
		}
		rs = append(rs, task.Result{ID: l.Spec.ID, State: st, Attempts: 1})
	}
	if _, err := pil.Complete(ctx, "c1", rs); err != nil {
		t.Fatal(err)
	}
	_, cursor, err := adm.Results(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := pil.Retry(ctx, nil); !errors.Is(err, upstream.ErrForbidden) {
		t.Fatalf("a pilot token retried: %v", err)
	}
	n, err := adm.Retry(ctx, nil)
	if err != nil || n != 3 {
		t.Fatalf("Retry: %d, %v; want 3", n, err)
	}
	st, err := adm.Status(ctx)
	if err != nil || st.Pending != 3 || st.Failed != 0 || st.Done != 2 {
		t.Fatalf("status after the retry: %+v, %v", st, err)
	}
	all, _, err := adm.Results(ctx, 0, 0)
	if err != nil || len(all) != 2 {
		t.Fatalf("results after the retry: %v, %v; want the 2 done", all, err)
	}

	// The retried tasks are leased again, in their old order; their new
	// results follow the old cursor.
	again, err := pil.Lease(ctx, upstream.LeaseRequest{Cluster: "c1", MaxTasks: 5, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range again {
		got = append(got, l.Spec.ID)
	}
	if want := []string{ls[0].Spec.ID, ls[2].Spec.ID, ls[4].Spec.ID}; !slices.Equal(got, want) {
		t.Fatalf("leased after the retry: %v, want %v", got, want)
	}
	if _, err := pil.Complete(ctx, "c1", []task.Result{{ID: got[0], State: task.StateDone, Attempts: 2}}); err != nil {
		t.Fatal(err)
	}
	later, _, err := adm.Results(ctx, cursor, 0)
	if err != nil || len(later) != 1 || later[0].ID != got[0] {
		t.Fatalf("results after the old cursor: %v, %v", later, err)
	}
	if n, err := adm.Retry(ctx, []string{got[0], "nope"}); err != nil || n != 0 {
		t.Fatalf("Retry of a done and an unknown task: %d, %v", n, err)
	}
}

func TestStoreRetryKeepsCounts(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTestStore(t, c.Now)
	if _, err := s.Submit(ctx, specs("k", 40)); err != nil {
		t.Fatal(err)
	}
	ls, err := s.Lease(ctx, upstream.LeaseRequest{Cluster: "c", MaxTasks: 40, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var rs []task.Result
	for _, l := range ls {
		rs = append(rs, task.Result{ID: l.Spec.ID, State: task.StateFailed, Attempts: 1})
	}
	if _, err := s.Complete(ctx, "c", rs); err != nil {
		t.Fatal(err)
	}
	// Every other failed task, named: the cursor walks past deletions
	// without skipping one.
	var ids []string
	for i := 0; i < 40; i += 2 {
		ids = append(ids, ls[i].Spec.ID)
	}
	if n, err := s.Retry(ctx, ids); err != nil || n != 20 {
		t.Fatalf("Retry: %d, %v", n, err)
	}
	if n, err := s.Retry(ctx, nil); err != nil || n != 20 {
		t.Fatalf("Retry of the rest: %d, %v", n, err)
	}
	checkInvariants(t, s)
	st, _ := s.Status(ctx)
	if st.Pending != 40 || st.Failed != 0 {
		t.Fatalf("status: %+v", st)
	}
}
