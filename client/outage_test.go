package client

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
	"github.com/pilot-hpc/pilot/upstream/server"
)

// outageQueue reports the first outage its Submit meets.
type outageQueue struct {
	upstream.Queue
	once   sync.Once
	outage chan struct{}
}

func (o *outageQueue) Submit(ctx context.Context, s []task.Spec) (upstream.SubmitReport, error) {
	rep, err := o.Queue.Submit(ctx, s)
	if errors.Is(err, upstream.ErrUnavailable) {
		o.once.Do(func() { close(o.outage) })
	}
	return rep, err
}

// Tasks submitted while the queue server is down wait in the Executor and
// are stored once it is up: none is dropped.
func TestSubmissionsOutliveAnOutage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here until the server starts below

	hq, err := upstream.OpenHTTP("http://"+addr, upstream.HTTPOptions{Token: tokSubmit, RetryFor: 20 * time.Millisecond,
		BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer hq.Close()
	q := &outageQueue{Queue: hq, outage: make(chan struct{})}
	ex := New(q, Options{Logger: slog.New(slog.DiscardHandler)})
	defer ex.Close(bg)
	ctx, cancel := context.WithTimeout(bg, time.Minute)
	defer cancel()
	var fs []*Future
	for _, s := range specs("o", 500) {
		f, err := ex.Submit(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	<-q.outage

	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	os.WriteFile(tokens, []byte("submit "+tokSubmit+"\n"), 0o600)
	sctx, stop := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(sctx, server.Config{Listen: addr, DataDir: filepath.Join(dir, "data"), TokenFile: tokens,
			Logger: slog.New(slog.DiscardHandler)})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	for _, f := range fs {
		if err := f.Submitted(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st, err := hq.Status(ctx)
	if err != nil || st.Pending != len(fs) {
		t.Fatalf("after the outage: %+v %v", st, err)
	}
}
