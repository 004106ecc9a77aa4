package rpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/authconn"
	"github.com/pilot-hpc/pilot/task"
	"github.com/vmihailenco/msgpack/v5"
)

var (
	key   = bytes.Repeat([]byte{7}, 32)
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
)

// countingListener counts accepted connections and keeps them, so a test
// can break one from the server side.
type countingListener struct {
	net.Listener
	n     atomic.Int32
	mu    sync.Mutex
	conns []net.Conn
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func serve(t testing.TB, h Handler) (*countingListener, *Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	s := NewServer(key, h, quiet)
	done := make(chan error, 1)
	go func() { done <- s.Serve(cl) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return cl, s
}

func client(t testing.TB, addr string, k []byte) *Client {
	c := NewClient(addr, k)
	t.Cleanup(func() { c.Close() })
	return c
}

func assignment(id string, attempt int) Assignment {
	return Assignment{Spec: task.Spec{ID: id, Cmd: []string{"true"}, Cores: 1, Env: map[string]string{"K": "V"}}, Attempt: attempt, Cores: 1, Deadline: time.Now().Add(time.Hour).UnixMilli()}
}

func TestRoundTrips(t *testing.T) {
	// The handlers run on the server's goroutines; mu orders their writes
	// before the test's reads.
	var mu sync.Mutex
	var got []Assignment
	var cancelled []TaskRef
	var reports []Report
	ln, _ := serve(t, Handler{
		Assign: func(_ context.Context, req *AssignRequest) (AssignReply, error) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, req.Tasks...)
			return AssignReply{Refused: []Refusal{{TaskID: "b", Attempt: 1, Err: fmt.Errorf("%w: 0 of 2 cores free", ErrNoCapacity)}}}, nil
		},
		Cancel: func(_ context.Context, req *CancelRequest) error {
			mu.Lock()
			defer mu.Unlock()
			cancelled = append(cancelled, req.Tasks...)
			return nil
		},
		Report: func(_ context.Context, req *ReportRequest) (ReportReply, error) {
			mu.Lock()
			defer mu.Unlock()
			reports = append(reports, req.Reports...)
			return ReportReply{Refused: []Refusal{{TaskID: "a", Attempt: 1, Err: ErrStale}}}, nil
		},
	})
	c := client(t, ln.Addr().String(), key)
	ctx := context.Background()

	rep, err := c.Assign(ctx, &AssignRequest{Leader: "n1", Tasks: []Assignment{assignment("a", 1), assignment("b", 1)}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(got) != 2 || got[0].Spec.Env["K"] != "V" || got[1].DeadlineTime().IsZero() {
		t.Fatalf("server got %+v", got)
	}
	mu.Unlock()
	if len(rep.Refused) != 1 || rep.Refused[0].TaskID != "b" || !errors.Is(rep.Refused[0].Err, ErrNoCapacity) {
		t.Fatalf("refusals %+v", rep.Refused)
	}
	if err := c.Cancel(ctx, &CancelRequest{Tasks: []TaskRef{{ID: "a", Attempt: 1}}}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(cancelled) != 1 {
		t.Fatalf("cancel: %+v", cancelled)
	}
	mu.Unlock()
	res := task.Result{ID: "a", State: task.StateDone, Value: []byte(`{"x":1}`)}
	rr, err := c.Report(ctx, &ReportRequest{Node: "n2", Reports: []Report{{Kind: ReportCompleted, TaskID: "a", Attempt: 1, Result: res, CPUs: []int{0, 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 1 || string(reports[0].Result.Value) != `{"x":1}` || len(reports[0].CPUs) != 2 {
		t.Fatalf("server got %+v", reports)
	}
	if len(rr.Refused) != 1 || !errors.Is(rr.Refused[0].Err, ErrStale) {
		t.Fatalf("report refusals %+v", rr.Refused)
	}
	if n := ln.n.Load(); n != 1 {
		t.Fatalf("3 sequential calls used %d connections, want 1", n)
	}
}

func TestHeartbeatRoundTrip(t *testing.T) {
	ln, _ := serve(t, Handler{Report: func(_ context.Context, r *ReportRequest) (ReportReply, error) {
		if !r.Heartbeat || len(r.Running) != 2 || r.SentAt == 0 || r.Reports[0].Class != "infra" {
			return ReportReply{}, fmt.Errorf("%w: heartbeat lost on the wire: %+v", ErrBadRequest, r)
		}
		return ReportReply{Cancel: r.Running[1:]}, nil
	}})
	c := client(t, ln.Addr().String(), key)
	rep, err := c.Report(context.Background(), &ReportRequest{
		Node: "n", Heartbeat: true, SentAt: time.Now().UnixMilli(),
		Running: []TaskRef{{ID: "a", Attempt: 1}, {ID: "b", Attempt: 2}},
		Reports: []Report{{Kind: ReportFailed, TaskID: "c", Attempt: 1, Class: "infra", Infra: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Cancel) != 1 || rep.Cancel[0] != (TaskRef{ID: "b", Attempt: 2}) {
		t.Fatalf("cancel list %+v", rep.Cancel)
	}
	// A heartbeat naming an attempt that cannot exist is refused whole.
	_, err = c.Report(context.Background(), &ReportRequest{Node: "n", Heartbeat: true, Running: []TaskRef{{ID: "../x", Attempt: 1}}})
	if !errors.Is(err, ErrBadRequest) {
		t.Fatalf("got %v, want ErrBadRequest", err)
	}
}

func TestErrorCodesBecomeSentinels(t *testing.T) {
	var next error
	ln, _ := serve(t, Handler{
		Report: func(context.Context, *ReportRequest) (ReportReply, error) { return ReportReply{}, next },
	})
	c := client(t, ln.Addr().String(), key)
	req := &ReportRequest{Node: "n", Reports: []Report{{Kind: ReportStarted, TaskID: "a", Attempt: 1}}}
	for _, tc := range []struct {
		err  error
		want error
	}{
		{NotLeader("127.0.0.1:7001"), ErrNotLeader},
		{fmt.Errorf("node n3: %w", ErrDraining), ErrDraining},
		{fmt.Errorf("task a: %w", ErrUnknownTask), ErrUnknownTask},
		{errors.New("disk on fire"), ErrInternal},
	} {
		next = tc.err
		_, err := c.Report(context.Background(), req)
		if !errors.Is(err, tc.want) {
			t.Errorf("handler error %q arrived as %v, want %v", tc.err, err, tc.want)
		}
		var re *RemoteError
		if !errors.As(err, &re) {
			t.Errorf("%v is not a *RemoteError", err)
		} else if tc.want == ErrNotLeader && re.Leader != "127.0.0.1:7001" {
			t.Errorf("leader %q lost on the wire", re.Leader)
		}
	}
	if err := c.Cancel(context.Background(), &CancelRequest{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unserved request: %v, want ErrUnsupported", err)
	}
	if n := ln.n.Load(); n != 1 {
		t.Errorf("remote errors cost %d connections, want 1", n)
	}
}

func TestWrongKeyRefused(t *testing.T) {
	var called atomic.Bool
	ln, _ := serve(t, Handler{Cancel: func(context.Context, *CancelRequest) error { called.Store(true); return nil }})
	c := client(t, ln.Addr().String(), bytes.Repeat([]byte{8}, 32))
	err := c.Cancel(context.Background(), &CancelRequest{})
	if !errors.Is(err, authconn.ErrRefused) {
		t.Fatalf("got %v, want authconn.ErrRefused", err)
	}
	if called.Load() {
		t.Fatal("the handler ran for a client without the key")
	}
}

// rawConn is an authenticated connection that speaks frames by hand.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := authconn.Client(conn, key); err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn
}

func expectBadRequestThenClose(t *testing.T, conn net.Conn) {
	t.Helper()
	r := bufio.NewReader(conn)
	rt, body, err := readFrame(r)
	if err != nil || rt != MsgError {
		t.Fatalf("reply %s %v, want an error envelope", rt, err)
	}
	var env Envelope
	if err := msgpack.Unmarshal(body, &env); err != nil || env.Code != CodeBadRequest {
		t.Fatalf("envelope %+v %v, want CodeBadRequest", env, err)
	}
	if _, _, err := readFrame(r); !errors.Is(err, io.EOF) {
		t.Fatalf("after a bad frame the connection stayed open: %v", err)
	}
}

func TestBadFramesRefusedCleanly(t *testing.T) {
	var called atomic.Bool
	ln, _ := serve(t, Handler{
		Assign: func(context.Context, *AssignRequest) (AssignReply, error) {
			called.Store(true)
			return AssignReply{}, nil
		},
	})
	addr := ln.Addr().String()
	frame := func(t MsgType, body []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(body)+1))
		return append(append(b, byte(t)), body...)
	}
	escaping, _ := msgpack.Marshal(&AssignRequest{Tasks: []Assignment{assignment("../../etc", 1)}})
	noAttempt, _ := msgpack.Marshal(&AssignRequest{Tasks: []Assignment{assignment("a", 0)}})
	for name, raw := range map[string][]byte{
		"garbage body":   frame(MsgAssign, []byte{0xc1, 0xff, 0x00}),
		"unknown type":   frame(99, []byte{0x80}),
		"a reply type":   frame(MsgAck, []byte{0x80}),
		"escaping id":    frame(MsgAssign, escaping),
		"attempt 0":      frame(MsgAssign, noAttempt),
		"huge length":    binary.BigEndian.AppendUint32(nil, MaxFrame+1),
		"zero length":    binary.BigEndian.AppendUint32(nil, 0),
		"wrong body map": frame(MsgAssign, []byte{0x81, 0xa5, 't', 'a', 's', 'k', 's', 0x05}),
	} {
		t.Run(name, func(t *testing.T) {
			conn := rawConn(t, addr)
			if _, err := conn.Write(raw); err != nil {
				t.Fatal(err)
			}
			expectBadRequestThenClose(t, conn)
		})
	}
	if called.Load() {
		t.Fatal("a bad frame reached the handler")
	}
	// The server still serves well-formed requests.
	if _, err := client(t, addr, key).Assign(context.Background(), &AssignRequest{Tasks: []Assignment{assignment("ok", 1)}}); err != nil {
		t.Fatal(err)
	}
}

func TestDeadPooledConnectionIsRetried(t *testing.T) {
	var calls atomic.Int32
	ln, _ := serve(t, Handler{Cancel: func(context.Context, *CancelRequest) error { calls.Add(1); return nil }})
	c := client(t, ln.Addr().String(), key)
	if err := c.Cancel(context.Background(), &CancelRequest{}); err != nil {
		t.Fatal(err)
	}
	ln.mu.Lock()
	ln.conns[0].Close() // the server side of the pooled connection dies
	ln.mu.Unlock()
	if err := c.Cancel(context.Background(), &CancelRequest{}); err != nil {
		t.Fatalf("call on a dead pooled connection: %v", err)
	}
	if calls.Load() != 2 || ln.n.Load() != 2 {
		t.Fatalf("%d calls over %d connections, want 2 over 2", calls.Load(), ln.n.Load())
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = client(t, addr, key).Cancel(context.Background(), &CancelRequest{})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
}

func TestCancelledCallReturns(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	ln, _ := serve(t, Handler{Cancel: func(context.Context, *CancelRequest) error {
		entered <- struct{}{}
		<-release
		return nil
	}})
	defer close(release)
	c := client(t, ln.Addr().String(), key)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Cancel(ctx, &CancelRequest{}) }()
	<-entered
	cancel()
	if err := <-errc; !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	var n atomic.Int32
	ln, _ := serve(t, Handler{Report: func(_ context.Context, r *ReportRequest) (ReportReply, error) {
		n.Add(int32(len(r.Reports)))
		return ReportReply{}, nil
	}})
	c := client(t, ln.Addr().String(), key)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				id := fmt.Sprintf("t%d-%d", i, j)
				if _, err := c.Report(context.Background(), &ReportRequest{Node: "n", Reports: []Report{{Kind: ReportStarted, TaskID: id, Attempt: 1}}}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n.Load() != 320 {
		t.Fatalf("server saw %d reports, want 320", n.Load())
	}
}
