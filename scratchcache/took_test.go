package scratchcache

import (
	"context"
	"testing"
)

// TestTookTellsWhichAttemptsRan: an attempt took its entry once it holds
// the lease, whether it then seals, releases or still runs; an attempt that
// never opened the entry, another attempt and another task of the same
// content did not.
func TestTookTellsWhichAttemptsRan(t *testing.T) {
	c := newTestCache(t, t.TempDir(), newClock(), nil)
	took := func(id, digest string, attempt int) bool {
		t.Helper()
		ok, err := c.Took(id, digest, attempt)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	running, released, sealed, never := specDigest("running"), specDigest("released"), specDigest("sealed"), specDigest("never")
	mustOpenLease(t, c, "running", running, 1)
	if err := mustOpenLease(t, c, "released", released, 1).Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := mustOpenLease(t, c, "sealed", sealed, 1).Seal(context.Background(), []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, digest string
		attempt    int
		want       bool
	}{
		{"running", running, 1, true},
		{"released", released, 1, true},
		{"sealed", sealed, 1, true},
		{"never", never, 1, false},
		{"running", running, 2, false},
		{"sealed", sealed, 2, false},
		{"twin", sealed, 1, false}, // same content, another task
	} {
		if got := took(tc.id, tc.digest, tc.attempt); got != tc.want {
			t.Errorf("Took(%s, attempt %d) = %v, want %v", tc.id, tc.attempt, got, tc.want)
		}
	}
	if _, err := c.Took("x", "not-a-digest", 1); err == nil {
		t.Error("Took accepted a malformed digest")
	}
}
