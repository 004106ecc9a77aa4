package scratchcache

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// FuzzDecodeManifest: whatever is on disk, decoding never panics, accepts
// only a manifest whose checksum matches, and what it accepts encodes back
// to the same bytes.
func FuzzDecodeManifest(f *testing.F) {
	d := specDigest("fuzz")
	m := &Manifest{Version: manifestVersion, TaskID: "fuzz", Digest: d, Attempt: 2,
		Started: time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC), Sealed: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC),
		Value:  []byte(`{"ppm":[1,2.5]}`),
		Output: &task.Output{URI: "file:///r/x", Bytes: 3, SHA256: "ab"},
		Files:  []File{{Name: "a/b", Bytes: 3, SHA256: "ab", URI: "file:///r/x"}, {Name: "c", Bytes: 0, SHA256: "cd"}}}
	good, err := m.encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add(bytes.Replace(good, []byte(`"attempt":2`), []byte(`"attempt":3`), 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeManifest(b, d)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("a bad manifest must be ErrCorrupt, got %v", err)
			}
			return
		}
		again, err := m.encode()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := decodeManifest(again, d)
		if err != nil || m2.Checksum != m.Checksum {
			t.Fatalf("re-encoded manifest does not decode to the same checksum: %v", err)
		}
	})
}
