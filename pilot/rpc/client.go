package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pilot-hpc/pilot/authconn"
	"github.com/vmihailenco/msgpack/v5"
)

// DefaultCallTimeout bounds a call whose ctx has no deadline.
const DefaultCallTimeout = 30 * time.Second

// maxIdle is how many idle connections a Client keeps.
const maxIdle = 4

// Client calls one peer. Its methods are safe for concurrent use; each
// call uses its own connection, reused from an idle pool when possible.
type Client struct {
	addr   string
	key    []byte
	mu     sync.Mutex
	idle   []*clientConn
	closed bool
}

type clientConn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

// NewClient makes a client of the peer at addr (host:port). It dials
// lazily, on the first call.
func NewClient(addr string, key []byte) *Client {
	return &Client{addr: addr, key: key}
}

// Addr is the peer's address.
func (c *Client) Addr() string { return c.addr }

// Assign sends a batch of assignments to an agent. Refused items come back
// in the reply; an error means the whole batch was not taken.
func (c *Client) Assign(ctx context.Context, req *AssignRequest) (AssignReply, error) {
	var w replyWire
	if err := c.call(ctx, MsgAssign, req, MsgAssignReply, &w); err != nil {
		return AssignReply{}, err
	}
	return AssignReply{Refused: fromWire(w)}, nil
}

// Cancel asks an agent to end attempts.
func (c *Client) Cancel(ctx context.Context, req *CancelRequest) error {
	return c.call(ctx, MsgCancel, req, MsgAck, &Ack{})
}

// Report sends a batch of reports to the leader.
func (c *Client) Report(ctx context.Context, req *ReportRequest) (ReportReply, error) {
	var w replyWire
	if err := c.call(ctx, MsgReport, req, MsgReportReply, &w); err != nil {
		return ReportReply{}, err
	}
	return ReportReply{Refused: fromWire(w), Cancel: w.Cancel}, nil
}

// Close closes the idle connections; calls in flight finish and then close
// theirs.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, cc := range idle {
		cc.c.Close()
	}
	return nil
}

func (c *Client) call(ctx context.Context, t MsgType, req any, want MsgType, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCallTimeout)
		defer cancel()
	}
	for try := 0; ; try++ {
		cc, reused, err := c.get(ctx)
		if err != nil {
			return err
		}
		clean, err := roundTrip(ctx, cc, t, req, want, out)
		var re *RemoteError
		switch {
		case err == nil && clean:
			c.put(cc)
			return nil
		case err == nil:
			cc.c.Close() // ctx ended as the reply came: its deadline may be poisoned
			return nil
		case errors.As(err, &re) && re.Code != CodeBadRequest && clean:
			c.put(cc) // an answer: the connection is fine
			return err
		case errors.As(err, &re):
			cc.c.Close() // the server closes after a bad request
			return err
		}
		cc.c.Close()
		// A pooled connection the peer had closed fails on first use;
		// the request is idempotent, so one retry on a fresh one is safe.
		if reused && try == 0 && ctx.Err() == nil && !errors.Is(err, ErrFrame) {
			continue
		}
		if errors.Is(err, ErrFrame) {
			return fmt.Errorf("rpc %s to %s: %w", t, c.addr, err)
		}
		return fmt.Errorf("%w: rpc %s to %s: %v", ErrUnavailable, t, c.addr, err)
	}
}

func (c *Client) get(ctx context.Context) (*clientConn, bool, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, false, fmt.Errorf("rpc client of %s is closed", c.addr)
	}
	if n := len(c.idle); n > 0 {
		cc := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return cc, true, nil
	}
	c.mu.Unlock()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, false, fmt.Errorf("%w: dialling %s: %v", ErrUnavailable, c.addr, err)
	}
	timeout := authconn.DefaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if err := authconn.ClientTimeout(conn, c.key, timeout); err != nil {
		conn.Close()
		if errors.Is(err, authconn.ErrTimeout) {
			return nil, false, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		return nil, false, fmt.Errorf("rpc to %s: %w", c.addr, err)
	}
	return &clientConn{c: conn, r: bufio.NewReader(conn), w: bufio.NewWriter(conn)}, false, nil
}

func (c *Client) put(cc *clientConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || len(c.idle) >= maxIdle {
		cc.c.Close()
		return
	}
	c.idle = append(c.idle, cc)
}

// roundTrip sends one request and reads its reply. clean is false when the
// connection must not be reused: ctx's cancellation may have set its
// deadline to the past after the reply arrived.
func roundTrip(ctx context.Context, cc *clientConn, t MsgType, req any, want MsgType, out any) (clean bool, err error) {
	dl, _ := ctx.Deadline()
	if err := cc.c.SetDeadline(dl); err != nil {
		return false, err
	}
	// Unblock the read at once when ctx is cancelled before its deadline.
	stop := context.AfterFunc(ctx, func() { cc.c.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			clean = false
		}
	}()
	if err := writeFrame(cc.w, t, req); err != nil {
		return false, err
	}
	rt, body, err := readFrame(cc.r)
	if err != nil {
		return false, err
	}
	if err := checkShape(body); err != nil {
		return false, err
	}
	if rt == MsgError {
		var env Envelope
		if err := msgpack.Unmarshal(body, &env); err != nil {
			return false, fmt.Errorf("%w: error envelope does not decode: %v", ErrFrame, err)
		}
		return true, env.err()
	}
	if rt != want {
		return false, fmt.Errorf("%w: got a %s reply to a %s request", ErrFrame, rt, t)
	}
	if err := msgpack.Unmarshal(body, out); err != nil {
		return false, fmt.Errorf("%w: %s reply does not decode: %v", ErrFrame, rt, err)
	}
	return true, nil
}
