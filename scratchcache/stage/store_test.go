package stage

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/pilot-hpc/pilot/task"
)

func sumOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// exerciseStore runs the contract every store keeps. tamper replaces the
// bytes of a stored object behind the store's back.
func exerciseStore(t *testing.T, s Store, tamper func(t *testing.T, out task.Output, data []byte)) {
	ctx := context.Background()
	big := randomBytes(t, 1<<20)
	small := []byte(`{"shift_ppm": 12.5}`)
	var outs []task.Output
	for _, c := range []struct {
		key  string
		data []byte
	}{{"ab/cd/0123/a1/out.bin", big}, {"ab/cd/0123/a1/value", small}, {"empty", nil}} {
		out, err := s.Put(ctx, c.key, bytes.NewReader(c.data), int64(len(c.data)), sumOf(c.data))
		if err != nil {
			t.Fatalf("put %s: %v", c.key, err)
		}
		if out.Bytes != int64(len(c.data)) || out.SHA256 != sumOf(c.data) {
			t.Fatalf("put %s returned %+v", c.key, out)
		}
		var got bytes.Buffer
		if err := s.Fetch(ctx, out, &got); err != nil {
			t.Fatalf("fetch %s: %v", out.URI, err)
		}
		if !bytes.Equal(got.Bytes(), c.data) {
			t.Fatalf("fetch %s: %d bytes differ from the %d put", out.URI, got.Len(), len(c.data))
		}
		outs = append(outs, out)
	}

	t.Run("source changed under Put", func(t *testing.T) {
		_, err := s.Put(ctx, "changed", bytes.NewReader(small), int64(len(small)), sumOf(big))
		if !errors.Is(err, ErrChecksum) {
			t.Fatalf("want ErrChecksum, got %v", err)
		}
		lost := task.Output{URI: s.URI() + "changed", Bytes: int64(len(small)), SHA256: sumOf(small)}
		if err := s.Fetch(ctx, lost, &bytes.Buffer{}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a refused Put left an object behind, or a missing one is not ErrNotFound: %v", err)
		}
	})
	t.Run("short source", func(t *testing.T) {
		_, err := s.Put(ctx, "short", bytes.NewReader(small[:3]), int64(len(small)), sumOf(small))
		if err == nil {
			t.Fatal("Put of fewer bytes than announced succeeded")
		}
	})
	t.Run("escaping key", func(t *testing.T) {
		for _, key := range []string{"../x", "/abs", "a//b", "a/./b", ""} {
			if _, err := s.Put(ctx, key, bytes.NewReader(small), int64(len(small)), sumOf(small)); !errors.Is(err, ErrURI) {
				t.Errorf("key %q: want ErrURI, got %v", key, err)
			}
		}
	})
	t.Run("foreign uri", func(t *testing.T) {
		out := outs[1]
		out.URI = "file:///etc/passwd"
		if err := s.Fetch(ctx, out, &bytes.Buffer{}); !errors.Is(err, ErrURI) {
			t.Fatalf("want ErrURI, got %v", err)
		}
	})
	t.Run("tampered object detected on download", func(t *testing.T) {
		bad := append([]byte{}, big...)
		bad[len(bad)/2] ^= 0xff
		tamper(t, outs[0], bad)
		if err := s.Fetch(ctx, outs[0], &bytes.Buffer{}); !errors.Is(err, ErrChecksum) {
			t.Fatalf("want ErrChecksum, got %v", err)
		}
		tamper(t, outs[1], small[:5])
		if err := s.Fetch(ctx, outs[1], &bytes.Buffer{}); !errors.Is(err, ErrChecksum) {
			t.Fatalf("truncated object: want ErrChecksum, got %v", err)
		}
	})
}

func TestOpenRefusesBadURIs(t *testing.T) {
	for _, uri := range []string{"", "ftp://x/y", "file://host/dir", "file:relative", "s3:///nobucket", "s3://b/p"} {
		if _, err := Open(uri, Options{}); !errors.Is(err, ErrURI) {
			t.Errorf("Open(%q): want ErrURI, got %v", uri, err)
		}
	}
}
