package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
	"github.com/pilot-hpc/pilot/upstream/server"
)

var bg = context.Background()

const (
	tokSubmit = "submit-token-0123456789"
	tokPilot  = "pilot-token-0123456789"
)

// serve runs a real queue server on 127.0.0.1 and returns its URL.
func serve(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("submit "+tokSubmit+"\npilot "+tokPilot+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), TokenFile: tokens,
			OnListen: func(a string) { addr <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case a := <-addr:
		return "http://" + a
	case err := <-done:
		t.Fatal(err)
	}
	return ""
}

func open(t *testing.T, url, token string) upstream.Queue {
	t.Helper()
	q, err := upstream.Open(url, upstream.Options{HTTP: upstream.HTTPOptions{Token: token}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// runPilot leases and completes tasks until ctx ends: a stand-in for a
// cluster. A task whose id ends in "-bad" fails; others return their id.
func runPilot(ctx context.Context, q upstream.Queue) error {
	for ctx.Err() == nil {
		ls, err := q.Lease(ctx, upstream.LeaseRequest{Cluster: "site-a", MaxTasks: 500, TTL: time.Minute})
		if err != nil {
			return err
		}
		if len(ls) == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond): // an external queue: poll
			}
			continue
		}
		res := make([]task.Result, len(ls))
		for i, l := range ls {
			res[i] = task.Result{ID: l.Spec.ID, State: task.StateDone, Attempts: 1, Value: []byte(`"` + l.Spec.ID + `"`)}
			if strings.HasSuffix(l.Spec.ID, "-bad") {
				res[i] = task.Result{ID: l.Spec.ID, State: task.StateFailed, Attempts: 3, Error: "exit 1"}
			}
		}
		if _, err := q.Complete(ctx, "site-a", res); err != nil {
			return err
		}
	}
	return nil
}

func specs(prefix string, n int) []task.Spec {
	out := make([]task.Spec, n)
	for i := range out {
		out[i] = task.Spec{ID: fmt.Sprintf("%s-%05d", prefix, i), Cmd: []string{"echo"}}
	}
	return out
}

func TestMapAndAsCompletedOverTheQueueServer(t *testing.T) {
	url := serve(t)
	ctx, cancel := context.WithTimeout(bg, time.Minute)
	defer cancel()
	pctx, stop := context.WithCancel(ctx)
	pilot := make(chan error, 1)
	go func() { pilot <- runPilot(pctx, open(t, url, tokPilot)) }()
	defer func() {
		stop()
		if err := <-pilot; err != nil && pctx.Err() == nil {
			t.Error(err)
		}
	}()

	ex := New(open(t, url, tokSubmit), Options{})
	defer ex.Close(bg)
	in := append(specs("m", 2000), task.Spec{ID: "x-bad", Cmd: []string{"false"}})
	fs, err := ex.Map(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for f := range ex.AsCompleted(ctx, fs) {
		got++
		r, err := f.Result(ctx)
		if f.ID == "x-bad" {
			if !errors.Is(err, ErrTaskFailed) || r.State != task.StateFailed {
				t.Errorf("failed task: %+v %v", r, err)
			}
			continue
		}
		if err != nil || string(r.Value) != `"`+f.ID+`"` {
			t.Fatalf("%s: %+v %v", f.ID, r, err)
		}
	}
	if got != len(in) {
		t.Fatalf("AsCompleted yielded %d of %d", got, len(in))
	}
	// A task that finished before it was submitted again resolves at once
	// from the results the follower has passed.
	f, err := ex.Submit(ctx, in[7])
	if err != nil {
		t.Fatal(err)
	}
	if r, err := f.Result(ctx); err != nil || r.ID != in[7].ID {
		t.Fatalf("resubmitted finished task: %+v %v", r, err)
	}
}

// countingQueue counts Submit calls of a real queue.
type countingQueue struct {
	upstream.Queue
	submits atomic.Int64
}

func (c *countingQueue) Submit(ctx context.Context, s []task.Spec) (upstream.SubmitReport, error) {
	c.submits.Add(1)
	return c.Queue.Submit(ctx, s)
}

func TestHundredThousandSubmitsMakeFewRequests(t *testing.T) {
	n := 100000
	if testing.Short() {
		n = 20000
	}
	st, err := server.OpenStore(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q := &countingQueue{Queue: st}
	ex := New(q, Options{PollEvery: time.Hour})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ { // concurrent submitters share the batches
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, s := range specs(fmt.Sprintf("g%d", g), n/4) {
				if _, err := ex.Submit(bg, s); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := ex.Close(bg); err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	stat, _ := st.Status(bg)
	if stat.Pending != n {
		t.Fatalf("%d pending, want %d", stat.Pending, n)
	}
	if calls := q.submits.Load(); calls > int64(n/1000)*3 {
		t.Fatalf("%d Submits made %d queue calls; batching should make about %d", n, calls, n/1000)
	} else {
		t.Logf("%d Submits made %d queue calls", n, calls)
	}
}

func TestRefusalsReachTheFuture(t *testing.T) {
	st, err := server.OpenStore(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ex := New(st, Options{})
	defer ex.Close(bg)
	if _, err := ex.Submit(bg, task.Spec{ID: "../../etc/passwd", Cmd: []string{"x"}}); !errors.Is(err, task.ErrInvalid) {
		t.Fatalf("invalid id: %v", err)
	}
	a := task.Spec{ID: "a", Cmd: []string{"x"}}
	b := task.Spec{ID: "a", Cmd: []string{"y"}} // same id, different task
	fs, err := ex.Map(bg, []task.Spec{a, b})
	if err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("Map: %v", err)
	}
	if err := fs[0].Submitted(bg); err != nil {
		t.Fatal(err)
	}
	if _, err := fs[1].Result(bg); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("refused future: %v", err)
	}
	if _, err := st.Complete(bg, "c", []task.Result{{ID: "a", State: task.StateDone}}); err != nil {
		t.Fatal(err)
	}
	if r, err := fs[0].Result(bg); err != nil || r.ID != "a" {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestExecutorOverTheFileQueue(t *testing.T) {
	q, err := upstream.Open(filepath.Join(t.TempDir(), "tasks.jsonl"), upstream.Options{File: upstream.FileOptions{Create: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx, cancel := context.WithTimeout(bg, time.Minute)
	defer cancel()
	pctx, stop := context.WithCancel(ctx)
	pilot := make(chan error, 1)
	go func() { pilot <- runPilot(pctx, q) }()
	defer func() {
		stop()
		if err := <-pilot; err != nil && pctx.Err() == nil {
			t.Error(err)
		}
	}()
	ex := New(q, Options{PollEvery: 10 * time.Millisecond})
	defer ex.Close(bg)
	fs, err := ex.Map(ctx, specs("f", 300))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for f := range ex.AsCompleted(ctx, fs) {
		if r, err := f.Result(ctx); err != nil || string(r.Value) != `"`+f.ID+`"` {
			t.Fatalf("%s: %+v %v", f.ID, r, err)
		}
		n++
	}
	if n != len(fs) {
		t.Fatalf("AsCompleted yielded %d of %d", n, len(fs))
	}
}
