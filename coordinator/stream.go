package coordinator

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// ConnWrapper wraps every Raft connection, both the ones this node dials
// (isDialer true) and the ones it accepts, before any Raft byte crosses it:
// the hook for campaign-key authentication (promise 9). It may run a
// handshake; it must return an error, not a half-open connection, when the
// peer is not who it should be. It runs under a deadline of
// handshakeTimeout.
type ConnWrapper func(conn net.Conn, isDialer bool) (net.Conn, error)

const handshakeTimeout = 10 * time.Second

// streamLayer is a TCP raft.StreamLayer that runs the wrapper on each
// connection. Accepted connections are wrapped in their own goroutines, so
// one slow or hostile peer never stalls the others.
type streamLayer struct {
	ln        net.Listener
	advertise net.Addr
	wrap      ConnWrapper
	log       *slog.Logger

	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newStreamLayer(bind, advertise string, wrap ConnWrapper, log *slog.Logger) (*streamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("raft transport: listen on %s: %w", bind, err)
	}
	var adv net.Addr = ln.Addr()
	if advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("raft transport: advertise address %q: %w", advertise, err)
		}
		if a.IP == nil || a.IP.IsUnspecified() {
			ln.Close()
			return nil, fmt.Errorf("raft transport: advertise address %q must name a reachable IP, not 0.0.0.0", advertise)
		}
		adv = a
	}
	s := &streamLayer{ln: ln, advertise: adv, wrap: wrap, log: log, conns: make(chan net.Conn), closed: make(chan struct{})}
	go s.acceptLoop()
	return s, nil
}

func (s *streamLayer) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Warn("raft transport: accept failed", "err", err)
			return
		}
		go s.handshake(c)
	}
}

func (s *streamLayer) handshake(c net.Conn) {
	w, err := s.wrapConn(c, false)
	if err != nil {
		s.log.Warn("raft transport: refused a connection", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	select {
	case s.conns <- w:
	case <-s.closed:
		w.Close()
	}
}

func (s *streamLayer) wrapConn(c net.Conn, dialer bool) (net.Conn, error) {
	if s.wrap == nil {
		return c, nil
	}
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	w, err := s.wrap(c, dialer)
	if err != nil {
		c.Close()
		return nil, err
	}
	w.SetDeadline(time.Time{})
	return w, nil
}

// Accept returns the next connection that passed the wrapper.
func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.closed:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections already handed out stay open.
func (s *streamLayer) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		err = s.ln.Close()
	})
	return err
}

// Addr is the address peers dial: the advertised one when set.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

// Dial connects to a peer and runs the wrapper as the dialing side.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	return s.wrapConn(c, true)
}
