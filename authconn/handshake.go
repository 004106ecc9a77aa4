package authconn

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// ErrRefused is wrapped by every handshake error where the peer did not
// prove it holds the campaign key: a wrong key, garbage, or a peer that hung
// up mid-handshake. It is not worth retrying with the same key.
var ErrRefused = errors.New("authentication refused")

// ErrTimeout is wrapped when the peer did not finish the handshake before
// the deadline. A slow peer may succeed later; a silent one never will.
var ErrTimeout = errors.New("authentication timed out")

// DefaultTimeout bounds a whole handshake in Server and Client.
const DefaultTimeout = 10 * time.Second

const (
	magic     = "PLTA1"
	nonceSize = 32
	macSize   = sha256.Size
	accept    = 1
	refuse    = 0
)

// Server runs the server side of the handshake on a freshly accepted conn
// with DefaultTimeout. On error the caller must close conn.
func Server(conn net.Conn, key []byte) error {
	return ServerTimeout(conn, key, DefaultTimeout)
}

// Client runs the client side of the handshake on a freshly dialled conn
// with DefaultTimeout. On error the caller must close conn.
func Client(conn net.Conn, key []byte) error {
	return ClientTimeout(conn, key, DefaultTimeout)
}

// ServerTimeout is Server with its own bound on the whole handshake. The
// deadline on conn is cleared when the handshake succeeds.
func ServerTimeout(conn net.Conn, key []byte, d time.Duration) error {
	k, err := derive(key)
	if err != nil {
		return err
	}
	if err := conn.SetDeadline(time.Now().Add(d)); err != nil {
		return fmt.Errorf("authconn: set deadline: %w", err)
	}
	peer := conn.RemoteAddr()

	hello := make([]byte, len(magic)+nonceSize)
	if _, err := io.ReadFull(conn, hello); err != nil {
		return readErr(peer, "the client's hello", d, err)
	}
	if string(hello[:len(magic)]) != magic {
		return fmt.Errorf("%w: %s did not speak the pilot handshake (bad magic); is it a pilot agent of this version?", ErrRefused, peer)
	}
	nc := hello[len(magic):]
	ns, err := nonce()
	if err != nil {
		return err
	}
	reply := make([]byte, 0, len(magic)+nonceSize+macSize)
	reply = append(reply, magic...)
	reply = append(reply, ns...)
	reply = append(reply, proof(k, "server", nc, ns)...)
	if _, err := conn.Write(reply); err != nil {
		return writeErr(peer, d, err)
	}
	got := make([]byte, macSize)
	if _, err := io.ReadFull(conn, got); err != nil {
		return readErr(peer, "the client's proof", d, err)
	}
	if !hmac.Equal(got, proof(k, "client", nc, ns)) {
		_, _ = conn.Write([]byte{refuse})
		return fmt.Errorf("%w: %s does not hold this campaign's key", ErrRefused, peer)
	}
	if _, err := conn.Write([]byte{accept}); err != nil {
		return writeErr(peer, d, err)
	}
	return clearDeadline(conn)
}

// ClientTimeout is Client with its own bound on the whole handshake. The
// deadline on conn is cleared when the handshake succeeds.
func ClientTimeout(conn net.Conn, key []byte, d time.Duration) error {
	k, err := derive(key)
	if err != nil {
		return err
	}
	if err := conn.SetDeadline(time.Now().Add(d)); err != nil {
		return fmt.Errorf("authconn: set deadline: %w", err)
	}
	peer := conn.RemoteAddr()

	nc, err := nonce()
	if err != nil {
		return err
	}
	if _, err := conn.Write(append([]byte(magic), nc...)); err != nil {
		return writeErr(peer, d, err)
	}
	reply := make([]byte, len(magic)+nonceSize+macSize)
	if _, err := io.ReadFull(conn, reply); err != nil {
		return readErr(peer, "the server's challenge", d, err)
	}
	if string(reply[:len(magic)]) != magic {
		return fmt.Errorf("%w: %s did not speak the pilot handshake (bad magic); is it a pilot agent of this version?", ErrRefused, peer)
	}
	ns := reply[len(magic) : len(magic)+nonceSize]
	if !hmac.Equal(reply[len(magic)+nonceSize:], proof(k, "server", nc, ns)) {
		return fmt.Errorf("%w: %s does not hold this campaign's key", ErrRefused, peer)
	}
	if _, err := conn.Write(proof(k, "client", nc, ns)); err != nil {
		return writeErr(peer, d, err)
	}
	verdict := make([]byte, 1)
	if _, err := io.ReadFull(conn, verdict); err != nil {
		return readErr(peer, "the server's verdict", d, err)
	}
	if verdict[0] != accept {
		return fmt.Errorf("%w: %s refused our key; check that this agent uses the campaign's key file", ErrRefused, peer)
	}
	return clearDeadline(conn)
}

// MinKeySize is the shortest campaign key the handshake accepts.
const MinKeySize = 16

func derive(key []byte) ([]byte, error) {
	if len(key) < MinKeySize {
		return nil, fmt.Errorf("authconn: campaign key is %d bytes, at least %d are needed", len(key), MinKeySize)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("pilot authconn v1"))
	return m.Sum(nil), nil
}

func proof(k []byte, role string, nc, ns []byte) []byte {
	m := hmac.New(sha256.New, k)
	m.Write([]byte(role))
	m.Write(nc)
	m.Write(ns)
	return m.Sum(nil)
}

func nonce() ([]byte, error) {
	b := make([]byte, nonceSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("authconn: random nonce: %w", err)
	}
	return b, nil
}

func readErr(peer net.Addr, what string, d time.Duration, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: %s did not send %s within %s", ErrTimeout, peer, what, d)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s hung up before sending %s (a peer with another key, or not a pilot agent)", ErrRefused, peer, what)
	}
	return fmt.Errorf("%w: reading %s from %s: %v", ErrRefused, what, peer, err)
}

func writeErr(peer net.Addr, d time.Duration, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: %s did not read the handshake within %s", ErrTimeout, peer, d)
	}
	return fmt.Errorf("%w: writing to %s: %v", ErrRefused, peer, err)
}

func clearDeadline(conn net.Conn) error {
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return fmt.Errorf("authconn: clear deadline: %w", err)
	}
	return nil
}
