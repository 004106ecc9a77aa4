package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pilot-hpc/pilot/authconn"
)

// Handler serves requests. A nil func answers CodeUnsupported. Handlers
// run on the connection's goroutine, one request per connection at a time
// and many connections at once, so they must be safe for concurrent use;
// ctx ends when the server closes. Errors wrapping a sentinel (ErrStale,
// ErrNoCapacity, ErrDraining...) or made by NotLeader keep their code on
// the wire.
type Handler struct {
	Assign func(ctx context.Context, req *AssignRequest) (AssignReply, error)
	Cancel func(ctx context.Context, req *CancelRequest) error
	Report func(ctx context.Context, req *ReportRequest) (ReportReply, error)
}

// WriteTimeout bounds writing one reply.
const WriteTimeout = 30 * time.Second

// Server accepts authenticated connections and dispatches their frames.
type Server struct {
	key     []byte
	h       Handler
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex
	lns     map[net.Listener]struct{}
	conns   map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
	timeout time.Duration
}

// NewServer makes a server that admits only holders of key.
func NewServer(key []byte, h Handler, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		key: key, h: h, log: logger, ctx: ctx, cancel: cancel,
		lns: map[net.Listener]struct{}{}, conns: map[net.Conn]struct{}{},
		timeout: authconn.DefaultTimeout,
	}
}

// Serve accepts connections on ln until Close; it returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	for {
		conn, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("rpc: accept on %s: %w", ln.Addr(), err)
		}
		if !s.track(conn) {
			conn.Close()
			return nil
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(conn)
			s.serveConn(conn)
		}()
	}
}

// Close stops every listener and connection and waits for handlers to
// return.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

func (s *Server) serveConn(conn net.Conn) {
	peer := conn.RemoteAddr().String()
	if err := authconn.ServerTimeout(conn, s.key, s.timeout); err != nil {
		s.log.Warn("rpc connection refused", "peer", peer, "err", err)
		return
	}
	r := bufio.NewReader(conn)
	w := bufio.NewWriter(conn)
	for {
		t, body, err := readFrame(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Warn("rpc frame unreadable; closing the connection", "peer", peer, "err", err)
				s.reply(conn, w, MsgError, envelope(fmt.Errorf("%w: %v", ErrBadRequest, err)))
			}
			return
		}
		req, err := decodeRequest(t, body)
		if err != nil {
			s.log.Warn("rpc request refused; closing the connection", "peer", peer, "type", t.String(), "err", err)
			s.reply(conn, w, MsgError, envelope(fmt.Errorf("%w: %v", ErrBadRequest, err)))
			return
		}
		rt, reply := s.dispatch(req)
		if !s.reply(conn, w, rt, reply) {
			return
		}
	}
}

func (s *Server) reply(conn net.Conn, w *bufio.Writer, t MsgType, v any) bool {
	conn.SetWriteDeadline(time.Now().Add(WriteTimeout))
	if err := writeFrame(w, t, v); err != nil {
		s.log.Warn("rpc reply not sent", "peer", conn.RemoteAddr().String(), "type", t.String(), "err", err)
		return false
	}
	return true
}

func (s *Server) dispatch(req any) (MsgType, any) {
	unsupported := &Envelope{Code: CodeUnsupported, Message: "this node serves no such request"}
	switch req := req.(type) {
	case *AssignRequest:
		if s.h.Assign == nil {
			return MsgError, unsupported
		}
		rep, err := s.h.Assign(s.ctx, req)
		if err != nil {
			return MsgError, envelope(err)
		}
		return MsgAssignReply, toWire(rep.Refused)
	case *CancelRequest:
		if s.h.Cancel == nil {
			return MsgError, unsupported
		}
		if err := s.h.Cancel(s.ctx, req); err != nil {
			return MsgError, envelope(err)
		}
		return MsgAck, Ack{}
	case *ReportRequest:
		if s.h.Report == nil {
			return MsgError, unsupported
		}
		rep, err := s.h.Report(s.ctx, req)
		if err != nil {
			return MsgError, envelope(err)
		}
		w := toWire(rep.Refused)
		w.Cancel = rep.Cancel
		return MsgReportReply, w
	}
	return MsgError, &Envelope{Code: CodeInternal, Message: fmt.Sprintf("no dispatch for %T", req)}
}
