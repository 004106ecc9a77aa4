package upstream

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

var ctx = context.Background()

func TestFileLeaseCompleteResume(t *testing.T) {
	c := newClock()
	q, path := newQ(t, 10, c)
	ls, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 4, TTL: time.Minute})
	if err != nil || len(ls) != 4 {
		t.Fatalf("lease: %d tasks, %v", len(ls), err)
	}
	if ls[0].Spec.ID != taskID(0) || ls[0].Spec.Cores != 1 || ls[0].Lease == "" {
		t.Fatalf("first lease %+v", ls[0])
	}
	rep, err := q.Complete(ctx, "a", done(ls[0].Spec.ID, ls[1].Spec.ID))
	if err != nil || rep.Accepted != 2 {
		t.Fatalf("complete: %+v, %v", rep, err)
	}
	s := checkInvariants(t, q, 10)
	if s.Done != 2 || s.Leased != 2 || s.Pending != 6 || s.LeasedBy["a"] != 2 {
		t.Fatalf("status %+v", s)
	}

	// A new cluster takes over: it fences the old one, never reruns the two
	// finished tasks, and gets the two leased ones back once they expire.
	q2 := openQ(t, path, c)
	c.Advance(2 * time.Minute)
	ids := leaseAll(t, q2, "b", 3)
	if len(ids) != 8 {
		t.Fatalf("new cluster leased %d tasks, want 8: %v", len(ids), ids)
	}
	for _, id := range ids {
		if id == taskID(0) || id == taskID(1) {
			t.Fatalf("finished task %s leased again", id)
		}
	}
	if _, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 1, TTL: time.Minute}); !errors.Is(err, ErrFenced) {
		t.Fatalf("old writer: %v, want ErrFenced", err)
	}
	res, next, err := q2.Results(ctx, 0, 1)
	if err != nil || len(res) != 1 || res[0].ID != taskID(0) {
		t.Fatalf("results: %+v %v", res, err)
	}
	res, _, err = q2.Results(ctx, next, 10)
	if err != nil || len(res) != 1 || res[0].ID != taskID(1) {
		t.Fatalf("results from %d: %+v %v", next, res, err)
	}
}

func TestFileLeaseLimits(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "q.jsonl")
	appendRaw(t, path, `{"id":"big","cmd":["x"],"cores":8}`+"\n"+`{"id":"s1","cmd":["x"],"cores":2}`+"\n"+`{"id":"s2","cmd":["x"],"cores":2}`+"\n"+`{"id":"s3","cmd":["x"],"cores":2}`+"\n")
	q := openQ(t, path, c)
	ls, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 10, MaxCores: 5, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got := specIDs(ls); strings.Join(got, ",") != "s1,s2" {
		t.Fatalf("leased %v within 5 cores, want s1,s2", got)
	}
	ls, _ = q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 10, MaxCores: 8, TTL: time.Minute})
	if got := specIDs(ls); strings.Join(got, ",") != "big" {
		t.Fatalf("leased %v within 8 cores, want the skipped big task first", got)
	}
	ls, _ = q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 1, TTL: time.Minute})
	if got := specIDs(ls); strings.Join(got, ",") != "s3" {
		t.Fatalf("leased %v, want s3", got)
	}
	if _, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 0, TTL: time.Minute}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("lease of 0 tasks: %v", err)
	}
	checkInvariants(t, q, 4)
}

func specIDs(ls []Leased) []string {
	var ids []string
	for _, l := range ls {
		ids = append(ids, l.Spec.ID)
	}
	return ids
}

func TestFileExpiryRenewRelease(t *testing.T) {
	c := newClock()
	q, _ := newQ(t, 6, c)
	a, _ := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 3, TTL: time.Minute})
	c.Advance(30 * time.Second)
	if lost, err := q.Renew(ctx, "a", []string{taskID(0), taskID(1)}, time.Minute); err != nil || len(lost) != 0 {
		t.Fatalf("renew: lost %v, %v", lost, err)
	}
	c.Advance(45 * time.Second) // t-0 and t-1 renewed to 90 s, t-2 expired at 60 s
	b, _ := q.Lease(ctx, LeaseRequest{Cluster: "b", MaxTasks: 1, TTL: time.Minute})
	if got := specIDs(b); len(got) != 1 || got[0] != taskID(2) {
		t.Fatalf("b leased %v, want the expired t-2 first", got)
	}
	lost, err := q.Renew(ctx, "a", specIDs(a), time.Minute)
	if err != nil || strings.Join(lost, ",") != taskID(2) {
		t.Fatalf("a renewing after expiry: lost %v, %v", lost, err)
	}
	if err := q.Release(ctx, "a", []string{taskID(0), taskID(2)}); err != nil {
		t.Fatal(err) // t-2 is b's: left alone
	}
	s := checkInvariants(t, q, 6)
	if s.Leased != 2 || s.LeasedBy["a"] != 1 || s.LeasedBy["b"] != 1 || s.Pending != 4 {
		t.Fatalf("status %+v", s)
	}
	ids := leaseAll(t, q, "c", 10)
	if strings.Join(ids, ",") != strings.Join([]string{taskID(0), taskID(3), taskID(4), taskID(5)}, ",") {
		t.Fatalf("c leased %v", ids)
	}
}

func TestFileDuplicateCompletions(t *testing.T) {
	c := newClock()
	q, _ := newQ(t, 3, c)
	leaseAll(t, q, "a", 10)
	rep, err := q.Complete(ctx, "a", append(done(taskID(0), taskID(0)), task.Result{ID: taskID(1), State: task.StateFailed, Error: "boom"}))
	if err != nil || rep.Accepted != 2 || len(rep.Duplicates) != 1 {
		t.Fatalf("complete: %+v %v", rep, err)
	}
	rep, err = q.Complete(ctx, "b", append(done(taskID(0), taskID(1), "nope"), task.Result{ID: taskID(2), State: "running"}))
	if err != nil || rep.Accepted != 0 || len(rep.Duplicates) != 2 || strings.Join(rep.Refused, ",") != "nope,"+taskID(2) {
		t.Fatalf("second complete: %+v %v", rep, err)
	}
	s := checkInvariants(t, q, 3)
	if s.Done != 1 || s.Failed != 1 || s.Leased != 1 || s.Duplicates != 3 {
		t.Fatalf("status %+v", s)
	}
	if rs := readResults(t, q); len(rs) != 2 || rs[1].Error != "boom" {
		t.Fatalf("results %+v", rs)
	}
}

func TestFileFencing(t *testing.T) {
	c := newClock()
	q1, path := newQ(t, 10, c)
	e1, err := q1.Claim()
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := q1.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 2, TTL: time.Minute})
	q2 := openQ(t, path, c)
	e2, err := q2.Claim()
	if err != nil || e2 <= e1 {
		t.Fatalf("second claim: epoch %d after %d, %v", e2, e1, err)
	}
	stateBefore, _ := os.ReadFile(filepath.Join(q1.StateDir(), stateFile))
	resultsBefore, _ := os.ReadFile(filepath.Join(q1.StateDir(), resultsFile))
	writes := map[string]error{}
	_, writes["lease"] = q1.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 2, TTL: time.Minute})
	_, writes["complete"] = q1.Complete(ctx, "a", done(specIDs(ls)...))
	_, writes["renew"] = q1.Renew(ctx, "a", specIDs(ls), time.Minute)
	writes["release"] = q1.Release(ctx, "a", specIDs(ls))
	_, writes["flush"] = q1.Flush(ctx)
	for op, err := range writes {
		if !errors.Is(err, ErrFenced) {
			t.Errorf("%s by the old epoch: %v, want ErrFenced", op, err)
		}
	}
	stateAfter, _ := os.ReadFile(filepath.Join(q1.StateDir(), stateFile))
	resultsAfter, _ := os.ReadFile(filepath.Join(q1.StateDir(), resultsFile))
	if string(stateBefore) != string(stateAfter) || string(resultsBefore) != string(resultsAfter) {
		t.Fatal("a fenced writer changed the state")
	}
	// The new writer sees the old one's live leases: it never leases those
	// tasks again while they last, and can finish the work.
	for _, id := range leaseAll(t, q2, "b", 3) {
		if id == ls[0].Spec.ID || id == ls[1].Spec.ID {
			t.Fatalf("%s leased to the new writer's cluster while the old lease lives", id)
		}
	}
	if rep, err := q2.Complete(ctx, "b", done(specIDs(ls)...)); err != nil || rep.Accepted != 2 {
		t.Fatalf("new writer completing: %+v %v", rep, err)
	}
	// Reading needs no claim and works under any epoch.
	if s := checkInvariants(t, q1, 10); s.Done != 2 || s.LeasedBy["b"] != 8 {
		t.Fatalf("status through the fenced queue: %+v", s)
	}
}

func TestFileFlushHandsBack(t *testing.T) {
	c := newClock()
	leader, path := newQ(t, 10, c)
	ls, _ := leader.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 3, TTL: time.Minute})
	leader.Complete(ctx, "a", done(ls[0].Spec.ID))

	admin := openQ(t, path, c)
	rep, err := admin.Flush(ctx)
	if err != nil || rep.Pending != 7 || rep.Leased != 2 {
		t.Fatalf("flush: %+v %v", rep, err)
	}
	s := checkInvariants(t, admin, 10)
	if s.Pending != 0 || s.Leased != 0 || s.Flushed != 9 || s.Done != 1 {
		t.Fatalf("status after flush %+v", s)
	}
	archived, err := os.ReadFile(rep.Archive)
	if err != nil || strings.Count(string(archived), "\n") != 9 {
		t.Fatalf("archive %s: %d lines, %v", rep.Archive, strings.Count(string(archived), "\n"), err)
	}

	// The leader adopts the flushed state: its leases are gone, results of
	// flushed tasks are refused, and tasks appended later run.
	lost, err := leader.Renew(ctx, "a", specIDs(ls[1:]), time.Minute)
	if err != nil || len(lost) != 2 {
		t.Fatalf("leader renewing flushed leases: lost %v, %v", lost, err)
	}
	crep, err := leader.Complete(ctx, "a", done(ls[1].Spec.ID))
	if err != nil || len(crep.Refused) != 1 {
		t.Fatalf("result of a flushed task: %+v %v", crep, err)
	}
	if rep, _ := admin.Submit(ctx, []task.Spec{{ID: taskID(5), Cmd: []string{"x"}}}); len(rep.Rejected) != 1 || !strings.Contains(rep.Rejected[0].Reason, "was flushed") {
		t.Fatalf("submit under a flushed id: %+v", rep)
	}
	appendRaw(t, path, taskLine(100)+"\n")
	if ids := leaseAll(t, leader, "a", 10); strings.Join(ids, ",") != taskID(100) {
		t.Fatalf("after flush leased %v", ids)
	}
	checkInvariants(t, leader, 11)
}

func TestFileRewrittenQueue(t *testing.T) {
	c := newClock()
	q, path := newQ(t, 5, c)
	leaseAll(t, q, "a", 3)
	b, _ := os.ReadFile(path)
	edit := func(id string) {
		os.WriteFile(path, []byte(strings.Replace(string(b), id, "t-xxxxxx", 1)), 0o600)
	}

	// Editing the last line read is noticed on the next call.
	edit(taskID(4))
	if _, err := q.Status(ctx); !errors.Is(err, ErrRewritten) {
		t.Fatalf("status after an edit of the cursor's line: %v", err)
	}
	// Editing an earlier line is noticed when the line is read again.
	edit(taskID(1))
	if _, err := q.Status(ctx); err != nil {
		t.Fatalf("status: %v", err)
	}
	c.Advance(2 * time.Hour)
	if _, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 5, TTL: time.Minute}); !errors.Is(err, ErrRewritten) || !strings.Contains(err.Error(), path+":2") {
		t.Fatalf("lease of an edited line: %v", err)
	}
	os.WriteFile(path, b, 0o600)
	if ids := leaseAll(t, q, "a", 5); len(ids) != 5 {
		t.Fatalf("after restoring the file leased %v", ids)
	}
	// Truncation below the cursor.
	os.WriteFile(path, b[:len(b)/2], 0o600)
	if _, err := OpenFile(path, FileOptions{Now: c.Now}); !errors.Is(err, ErrRewritten) || !strings.Contains(err.Error(), path) {
		t.Fatalf("open after truncation: %v", err)
	}
	if _, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 1, TTL: time.Minute}); !errors.Is(err, ErrRewritten) {
		t.Fatalf("lease after truncation: %v", err)
	}
	// Restored, the queue goes on from the state on disk: the tasks leased
	// before are still leased, the next line appended is the next task.
	os.WriteFile(path, append(b, taskLine(5)+"\n"...), 0o600)
	if ids := leaseAll(t, q, "a", 5); strings.Join(ids, ",") != taskID(5) {
		t.Fatalf("after restoring leased %v", ids)
	}
	checkInvariants(t, q, 6)
}

func TestFileOpenMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "typo.jsonl")
	if _, err := OpenFile(path, FileOptions{}); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("open of a missing queue: %v", err)
	}
	if _, err := os.Stat(path + ".pilot"); !os.IsNotExist(err) {
		t.Fatal("a failed open left a state directory")
	}
}

// A newer writer that claims the campaign while an operation is under way
// fences the write at its end, not only the next operation.
func TestFileFencedMidOperation(t *testing.T) {
	c := newClock()
	var other *FileQueue
	q, path := newQ(t, 5, c, func(o *FileOptions) {
		o.hook = func(step string) error {
			if step == "state:write" && other != nil {
				_, err := other.Claim()
				other = nil
				return err
			}
			return nil
		}
	})
	q.Claim()
	other = openQ(t, path, c)
	before, _ := os.ReadFile(filepath.Join(q.StateDir(), stateFile))
	if _, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 2, TTL: time.Minute}); !errors.Is(err, ErrFenced) {
		t.Fatalf("lease fenced part way: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(q.StateDir(), stateFile))
	if string(before) != string(after) {
		t.Fatal("a writer fenced part way wrote the state")
	}
}

// A second result line for one id (a deposed writer's, slipped past the
// fence) is never read as a result: the first one is.
func TestFileSecondResultLineIgnored(t *testing.T) {
	c := newClock()
	q, _ := newQ(t, 2, c)
	leaseAll(t, q, "a", 2)
	q.Complete(ctx, "a", done(taskID(0)))
	appendRaw(t, filepath.Join(q.StateDir(), resultsFile), `{"id":"t-000000","state":"failed","attempts":1,"exit_code":1,"runtime_s":0,"core_s":0}`+"\n")
	q.Complete(ctx, "a", done(taskID(1)))
	rs, _, err := q.Results(ctx, 0, 10)
	if err != nil || len(rs) != 2 || rs[0].ID != taskID(0) || rs[0].State != task.StateDone || rs[1].ID != taskID(1) {
		t.Fatalf("results %+v %v", rs, err)
	}
	if s, _ := openQ(t, q.Path(), c).Status(ctx); s.Done != 2 || s.Failed != 0 {
		t.Fatalf("status %+v", s)
	}
}
