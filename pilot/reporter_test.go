package pilot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/pilot/rpc"
	"github.com/pilot-hpc/pilot/task"
)

// call is one send the reporter made; the test answers it.
type call struct {
	req   *rpc.ReportRequest
	reply chan error
}

// fakeLeader starts a reporter whose sends the test answers one by one.
func fakeLeader(t *testing.T, setup ...func(*reporter)) (*reporter, chan call) {
	t.Helper()
	calls := make(chan call)
	r := newReporter("n1", time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, f := range setup {
		f(r)
	}
	r.send = func(ctx context.Context, req *rpc.ReportRequest) (rpc.ReportReply, error) {
		c := call{req: req, reply: make(chan error)}
		select {
		case calls <- c:
		case <-ctx.Done():
			return rpc.ReportReply{}, ctx.Err()
		}
		select {
		case err := <-c.reply:
			return rpc.ReportReply{}, err
		case <-ctx.Done():
			return rpc.ReportReply{}, ctx.Err()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r, calls
}

// TestReporterConfirmWaitsForTheLeader: confirm returns only once a send
// that carried its report succeeded; a failed send is retried with it.
func TestReporterConfirmWaitsForTheLeader(t *testing.T) {
	r, calls := fakeLeader(t)
	confirmed := make(chan error, 1)
	go func() {
		confirmed <- r.confirm(context.Background(), coordinator.Report{Kind: coordinator.ReportStarted, Task: "a", Attempt: 1})
	}()
	c := <-calls
	if len(c.req.Reports) != 1 || c.req.Reports[0].TaskID != "a" || c.req.Reports[0].Kind != rpc.ReportStarted {
		t.Fatalf("first send %+v", c.req.Reports)
	}
	c.reply <- errors.New("no leader")
	c = <-calls // the retry carries it again
	select {
	case err := <-confirmed:
		t.Fatalf("confirm returned (%v) before any send succeeded", err)
	default:
	}
	if len(c.req.Reports) != 1 || c.req.Reports[0].TaskID != "a" {
		t.Fatalf("retry %+v", c.req.Reports)
	}
	c.reply <- nil
	if err := <-confirmed; err != nil {
		t.Fatalf("confirm after delivery: %v", err)
	}
}

// TestReporterConfirmGivesUpWithItsContext: a confirm whose context ends
// returns its cause; the report stays pending and is still delivered.
func TestReporterConfirmGivesUpWithItsContext(t *testing.T) {
	r, calls := fakeLeader(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	confirmed := make(chan error, 1)
	go func() {
		confirmed <- r.confirm(ctx, coordinator.Report{Kind: coordinator.ReportStarted, Task: "a", Attempt: 1})
	}()
	c := <-calls
	stop := errors.New("cancelled by the leader")
	cancel(stop)
	if err := <-confirmed; !errors.Is(err, stop) {
		t.Fatalf("confirm after its context ended: %v, want %v", err, stop)
	}
	c.reply <- errors.New("no leader")
	c = <-calls
	if len(c.req.Reports) != 1 || c.req.Reports[0].TaskID != "a" {
		t.Fatalf("the report was dropped: %+v", c.req.Reports)
	}
	c.reply <- nil
	if err := r.waitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestReporterBatchesFollowOneAnother: reports added while a batch is on
// its way go whole in the next batch, batch after batch (a delivered
// batch's array takes later reports).
func TestReporterBatchesFollowOneAnother(t *testing.T) {
	r, calls := fakeLeader(t)
	done := func(id string) coordinator.Report {
		return coordinator.Report{Kind: coordinator.ReportCompleted, Task: id, Attempt: 1, Result: task.Result{ID: id, Node: "n1"}}
	}
	ids := []string{"a", "b", "c", "d", "e"}
	r.add(done(ids[0]))
	for i, id := range ids {
		c := <-calls
		check := func(when string) {
			if got := c.req.Reports; len(got) != 1 || got[0].TaskID != id || got[0].Result.ID != id || got[0].Result.Node != "n1" {
				t.Fatalf("batch %d %s: %+v, want the report of %s alone", i, when, got, id)
			}
		}
		check("as sent")
		if i+1 < len(ids) {
			r.add(done(ids[i+1]))
			check("once the next report is added")
		}
		c.reply <- nil
	}
	if err := r.waitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Reports that join a lingering batch go with it when the linger ends,
// and a full batch goes at once: none waits for a later report to wake
// the loop.
func TestReporterLingeringBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, calls := fakeLeader(t)
		done := func(i int) coordinator.Report {
			id := "t" + strconv.Itoa(i)
			return coordinator.Report{Kind: coordinator.ReportCompleted, Task: id, Attempt: 1, Result: task.Result{ID: id}}
		}
		start := time.Now()
		for i := range 5 {
			r.add(done(i))
		}
		c := <-calls
		if n, waited := len(c.req.Reports), time.Since(start); n != 5 || waited != reportLinger {
			t.Fatalf("a batch of %d after %v, want the 5 reports after the linger (%v)", n, waited, reportLinger)
		}
		c.reply <- nil
		synctest.Wait()

		start = time.Now()
		for i := range lingerBatch {
			r.add(done(100 + i))
		}
		c = <-calls
		if n, waited := len(c.req.Reports), time.Since(start); n != lingerBatch || waited != 0 {
			t.Fatalf("a batch of %d after %v, want all %d at once", n, waited, lingerBatch)
		}
		c.reply <- nil
		if err := r.waitIdle(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestReporterUncoveredBatchesGoAtOnce: with no attempt waiting for cores
// (the start and the end of a campaign) a report does not linger, and one
// that joins a lingering batch once nothing covers it any more sends it.
func TestReporterUncoveredBatchesGoAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var covered atomic.Bool
		r, calls := fakeLeader(t, func(r *reporter) { r.covered = covered.Load })
		done := func(i int) coordinator.Report {
			id := "t" + strconv.Itoa(i)
			return coordinator.Report{Kind: coordinator.ReportCompleted, Task: id, Attempt: 1, Result: task.Result{ID: id}}
		}
		start := time.Now()
		r.add(done(0))
		c := <-calls
		if n, waited := len(c.req.Reports), time.Since(start); n != 1 || waited != 0 {
			t.Fatalf("a batch of %d after %v, want the report at once", n, waited)
		}
		c.reply <- nil
		synctest.Wait()

		covered.Store(true) // a backlog: the next reports linger
		r.add(done(1))
		time.Sleep(reportLinger / 2)
		synctest.Wait()
		covered.Store(false) // the backlog ran dry
		r.add(done(2))
		c = <-calls
		if n, waited := len(c.req.Reports), time.Since(start); n != 2 || waited != reportLinger/2 {
			t.Fatalf("a batch of %d after %v, want both reports when the second came (%v)", n, waited, reportLinger/2)
		}
		c.reply <- nil
		if err := r.waitIdle(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
