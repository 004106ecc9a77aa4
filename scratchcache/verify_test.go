package scratchcache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// A sealed file damaged on disk: the next Open detects it, quarantines the
// entry and hands out a lease so the task is recomputed.
func TestCorruptSealedFileQuarantinedAndRecomputed(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	c := newTestCache(t, root, newClock(), nil)
	d := specDigest("mol-9")
	l := mustOpenLease(t, c, "mol-9", d, 1)
	writeFile(t, filepath.Join(l.OutDir(), "shifts.out"), []byte("C1 128.4\n"))
	s, err := l.Seal(ctx, []byte(`1`))
	if err != nil {
		t.Fatal(err)
	}
	if problems, checked, err := c.Verify(ctx, VerifyOptions{}); err != nil || checked != 1 || len(problems) != 0 {
		t.Fatalf("verify of a good cache: %v checked %d, %v", problems, checked, err)
	}

	// One flipped byte, same size.
	path := s.Path("shifts.out")
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, []byte("C1 128.5\n"))

	problems, checked, err := c.Verify(ctx, VerifyOptions{})
	if err != nil || checked != 1 || len(problems) != 1 || problems[0].Digest != d || problems[0].Quarantine != "" {
		t.Fatalf("verify: %+v checked %d, %v", problems, checked, err)
	}

	_, l2, err := c.Open("mol-9", d, 2)
	if err != nil {
		t.Fatal(err)
	}
	if l2 == nil || l2.Quarantined == "" {
		t.Fatalf("want a lease to recompute, with where the damaged entry went; got %+v", l2)
	}
	if b, err := os.ReadFile(filepath.Join(l2.Quarantined, "shifts.out")); err != nil || string(b) != "C1 128.5\n" {
		t.Fatalf("quarantined file: %q %v", b, err)
	}
	writeFile(t, filepath.Join(l2.OutDir(), "shifts.out"), []byte("C1 128.4\n"))
	if _, err := l2.Seal(ctx, []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	if hit := mustHit(t, c, "mol-9", d, 3); hit.Attempt != 2 {
		t.Fatalf("hit by attempt %d", hit.Attempt)
	}
}

// A damaged manifest (edited, truncated, or for another digest) is as bad
// as a damaged file.
func TestCorruptManifestDetected(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, t.TempDir(), newClock(), nil)
	for name, damage := range map[string]func(b []byte) []byte{
		"edited value": func(b []byte) []byte { return bytes.Replace(b, []byte(`"value":1`), []byte(`"value":2`), 1) },
		"truncated":    func(b []byte) []byte { return b[:len(b)/2] },
		"other digest": func(b []byte) []byte {
			var m Manifest
			_ = json.Unmarshal(b, &m)
			m.Digest = specDigest("someone else")
			out, _ := m.encode()
			return out
		},
	} {
		// Both forms of a seal: the manifest alone, and a directory.
		for _, files := range []int{0, 1} {
			t.Run(fmt.Sprintf("%s, %d files", name, files), func(t *testing.T) {
				d := specDigest(name + strconv.Itoa(files))
				l := mustOpenLease(t, c, "m", d, 1)
				if files > 0 {
					writeFile(t, filepath.Join(l.OutDir(), "out"), []byte("x"))
				}
				s, err := l.Seal(ctx, []byte(`1`))
				if err != nil {
					t.Fatal(err)
				}
				mpath := s.manifest
				if want := filepath.Join(s.Dir, manifestName); files > 0 && mpath != want {
					t.Fatalf("manifest of a sealed directory at %s, want %s", mpath, want)
				}
				b, err := os.ReadFile(mpath)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(mpath, 0o644); err != nil {
					t.Fatal(err)
				}
				writeFile(t, mpath, damage(b))
				if _, err := c.lookup(d, false); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("want ErrCorrupt, got %v", err)
				}
				problems, _, err := c.Verify(ctx, VerifyOptions{Quarantine: true})
				if err != nil || len(problems) != 1 || problems[0].Quarantine == "" {
					t.Fatalf("verify --quarantine: %+v %v", problems, err)
				}
				mustOpenLease(t, c, "m", d, 2).Release()
			})
		}
	}
}

// GC evicts sealed entries least recently used first until the cache fits,
// never an entry a live attempt holds, and counts a hit as a use.
func TestGCEvictsLeastRecentlyUsedNeverLive(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	c := newTestCache(t, t.TempDir(), clk, nil)
	seal := func(id string) string {
		d := specDigest(id)
		l := mustOpenLease(t, c, id, d, 1)
		writeFile(t, filepath.Join(l.OutDir(), "out"), bytes.Repeat([]byte{'x'}, 10_000))
		if _, err := l.Seal(ctx, nil); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		return d
	}
	old, mid, recent := seal("old"), seal("mid"), seal("recent")
	mustHit(t, c, "old", old, 2) // "old" is now the most recently used
	clk.Advance(time.Minute)

	running := mustOpenLease(t, c, "running", specDigest("running"), 1)
	writeFile(t, filepath.Join(running.WorkDir(), "ckpt"), bytes.Repeat([]byte{'y'}, 50_000))
	idle := mustOpenLease(t, c, "idle", specDigest("idle"), 1)
	writeFile(t, filepath.Join(idle.WorkDir(), "ckpt"), []byte("kept for a retry"))
	if err := idle.Release(); err != nil {
		t.Fatal(err)
	}

	infos, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	var total int64
	for _, in := range infos {
		states[in.Digest] = in.State
		total += in.Bytes
	}
	if states[old] != StateSealed || states[specDigest("running")] != StateRunning || states[specDigest("idle")] != StateIdle {
		t.Fatalf("states %v", states)
	}

	// Room for the live entry and one sealed one: "mid" and "recent" go
	// (least recently used first), "old" stays; the live one is never
	// evicted even though it is the biggest; the idle one is kept.
	rep, err := c.GC(ctx, GCOptions{Quota: total - 20_000})
	if err != nil {
		t.Fatal(err)
	}
	var evicted []string
	for _, in := range rep.Evicted {
		evicted = append(evicted, in.Digest)
	}
	if len(evicted) != 2 || evicted[0] != mid || evicted[1] != recent {
		t.Fatalf("evicted %v, want mid then recent", evicted)
	}
	if rep.After > total-20_000 || rep.Before != total {
		t.Fatalf("report %+v, total %d", rep, total)
	}
	mustHit(t, c, "old", old, 3)
	if err := running.Renew(); err != nil {
		t.Fatalf("the live entry was disturbed: %v", err)
	}

	// A quota nothing fits: every sealed entry goes, the live one stays;
	// the idle one goes once older than IdleAge.
	clk.Advance(2 * time.Hour)
	if err := running.Renew(); err != nil {
		t.Fatal(err)
	}
	rep, err = c.GC(ctx, GCOptions{Quota: 1, IdleAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Evicted) != 2 {
		t.Fatalf("evicted %+v, want old and idle", rep.Evicted)
	}
	infos, _ = c.List(ctx)
	if len(infos) != 1 || infos[0].State != StateRunning {
		t.Fatalf("left %+v, want only the running entry", infos)
	}
}

// A sealed directory without its manifest (someone deleted files by hand)
// is quarantined and recomputed, not taken for a hit or looped on.
func TestSealedWithoutManifestRecomputed(t *testing.T) {
	c := newTestCache(t, t.TempDir(), newClock(), nil)
	d := specDigest("gutted")
	l1 := mustOpenLease(t, c, "gutted", d, 1)
	writeFile(t, filepath.Join(l1.OutDir(), "out"), []byte("x")) // a sealed directory
	s, err := l1.Seal(context.Background(), []byte(`1`))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(s.Dir, manifestName)); err != nil {
		t.Fatal(err)
	}
	l := mustOpenLease(t, c, "gutted", d, 2)
	if l.Quarantined == "" {
		t.Fatal("the gutted sealed directory was not quarantined")
	}
	if _, err := l.Seal(context.Background(), []byte(`2`)); err != nil {
		t.Fatal(err)
	}
	if hit := mustHit(t, c, "gutted", d, 3); string(hit.Value) != "2" {
		t.Fatalf("hit %s", hit.Value)
	}
}

// verify --staged downloads staged outputs and catches a damaged or lost
// object, which an ordinary hit does not look at.
func TestVerifyStagedObjects(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, t.TempDir(), newClock(), nil)
	var sealed []*Sealed
	for _, id := range []string{"damaged", "lost", "fine"} {
		l := mustOpenLease(t, c, id, specDigest(id), 1)
		writeFile(t, filepath.Join(l.OutDir(), "big.out"), randomBytes(t, 100<<10))
		s, err := l.Seal(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, s)
	}
	path := func(s *Sealed) string { return s.Output.URI[len("file://"):] }
	writeFile(t, path(sealed[0]), randomBytes(t, 100<<10))
	if err := os.Remove(path(sealed[1])); err != nil {
		t.Fatal(err)
	}
	if problems, _, err := c.Verify(ctx, VerifyOptions{}); err != nil || len(problems) != 0 {
		t.Fatalf("local verify looks at staged objects: %+v %v", problems, err)
	}
	problems, checked, err := c.Verify(ctx, VerifyOptions{Staged: true, Quarantine: true})
	if err != nil || checked != 3 || len(problems) != 2 {
		t.Fatalf("verify --staged: %+v checked %d, %v", problems, checked, err)
	}
	for _, s := range sealed[:2] {
		if l := mustOpenLease(t, c, s.TaskID, s.Digest, 2); l.Release() != nil {
			t.Fatal("release")
		}
	}
	mustHit(t, c, "fine", specDigest("fine"), 2)
}
