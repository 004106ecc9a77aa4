package authconn

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// pair dials a real TCP connection over loopback and returns both ends.
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

// both runs the two sides at once and returns their errors.
func both(t *testing.T, ck, sk []byte) (cerr, serr error) {
	t.Helper()
	c, s := pair(t)
	done := make(chan error, 1)
	go func() {
		err := ServerTimeout(s, sk, 5*time.Second)
		if err != nil {
			s.Close() // what a real server does; the client then sees EOF
		}
		done <- err
	}()
	cerr = ClientTimeout(c, ck, 5*time.Second)
	if cerr != nil {
		c.Close() // what a real client does; the server then sees EOF
	}
	return cerr, <-done
}

func TestHandshakeSameKeyThenTrafficFlows(t *testing.T) {
	c, s := pair(t)
	errc := make(chan error, 1)
	go func() { errc <- Server(s, key(1)) }()
	if err := Client(c, key(1)); err != nil {
		t.Fatalf("client: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server: %v", err)
	}
	go c.Write([]byte("hello"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("after handshake got %q, %v", buf, err)
	}
}

func TestWrongKeyRefusedBothWays(t *testing.T) {
	cerr, serr := both(t, key(1), key(2))
	if !errors.Is(cerr, ErrRefused) {
		t.Errorf("client with the wrong server: %v, want ErrRefused", cerr)
	}
	if !errors.Is(serr, ErrRefused) {
		t.Errorf("server with the wrong client: %v, want ErrRefused", serr)
	}
}

func TestShortKeyRejected(t *testing.T) {
	c, _ := pair(t)
	if err := Client(c, []byte("short")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}

func TestGarbageRefused(t *testing.T) {
	t.Run("server gets garbage", func(t *testing.T) {
		c, s := pair(t)
		go c.Write(bytes.Repeat([]byte("GET / HTTP/1.1\r\n"), 4))
		if err := ServerTimeout(s, key(1), 5*time.Second); !errors.Is(err, ErrRefused) {
			t.Fatalf("got %v, want ErrRefused", err)
		}
	})
	t.Run("client gets garbage", func(t *testing.T) {
		c, s := pair(t)
		go func() {
			io.ReadFull(s, make([]byte, len(magic)+nonceSize))
			s.Write(bytes.Repeat([]byte{0xff}, len(magic)+nonceSize+macSize))
		}()
		if err := ClientTimeout(c, key(1), 5*time.Second); !errors.Is(err, ErrRefused) {
			t.Fatalf("got %v, want ErrRefused", err)
		}
	})
	t.Run("server replays a recorded proof", func(t *testing.T) {
		// A replayed server reply answers an old client nonce, never ours.
		c, s := pair(t)
		go func() {
			io.ReadFull(s, make([]byte, len(magic)+nonceSize))
			old := append([]byte(magic), make([]byte, nonceSize)...)
			k, _ := derive(key(1))
			s.Write(append(old, proof(k, "server", make([]byte, nonceSize), make([]byte, nonceSize))...))
		}()
		if err := ClientTimeout(c, key(1), 5*time.Second); !errors.Is(err, ErrRefused) {
			t.Fatalf("got %v, want ErrRefused", err)
		}
	})
	t.Run("client hangs up", func(t *testing.T) {
		c, s := pair(t)
		c.Close()
		if err := ServerTimeout(s, key(1), 5*time.Second); !errors.Is(err, ErrRefused) {
			t.Fatalf("got %v, want ErrRefused", err)
		}
	})
}

func TestTimeouts(t *testing.T) {
	t.Run("silent client", func(t *testing.T) {
		_, s := pair(t)
		err := ServerTimeout(s, key(1), 50*time.Millisecond)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("got %v, want ErrTimeout", err)
		}
	})
	t.Run("silent server", func(t *testing.T) {
		c, _ := pair(t)
		err := ClientTimeout(c, key(1), 50*time.Millisecond)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("got %v, want ErrTimeout", err)
		}
	})
	t.Run("client stalls after hello", func(t *testing.T) {
		c, s := pair(t)
		go c.Write(append([]byte(magic), make([]byte, nonceSize)...))
		err := ServerTimeout(s, key(1), 50*time.Millisecond)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("got %v, want ErrTimeout", err)
		}
	})
}

func FuzzServerHandshake(f *testing.F) {
	f.Add([]byte(magic + string(make([]byte, nonceSize+macSize))))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, in []byte) {
		err := ServerTimeout(&scripted{Reader: bytes.NewReader(in)}, key(1), time.Second)
		if err == nil {
			t.Fatalf("input %x passed the handshake without the key", in)
		}
	})
}

// scripted is a net.Conn that reads a fixed input and swallows writes, so
// the fuzz target runs the handshake without goroutines or sockets.
type scripted struct {
	*bytes.Reader
	net.Conn // nil: only the methods below are called
}

func (s *scripted) Read(p []byte) (int, error)  { return s.Reader.Read(p) }
func (s *scripted) Write(p []byte) (int, error) { return len(p), nil }
func (s *scripted) RemoteAddr() net.Addr        { return &net.TCPAddr{} }
func (s *scripted) SetDeadline(time.Time) error { return nil }
