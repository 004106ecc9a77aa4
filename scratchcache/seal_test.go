package scratchcache

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/scratchcache/internal/s3test"
	"github.com/pilot-hpc/pilot/scratchcache/stage"
	"github.com/pilot-hpc/pilot/task"
)

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// sealAndCheckOutputs seals an attempt with a small value, a big value or
// big files, and checks every staged object downloads with its checksum.
func sealAndCheckOutputs(t *testing.T, store stage.Store) {
	ctx := context.Background()
	clk := newClock()
	c := newTestCache(t, t.TempDir(), clk, func(cfg *Config) { cfg.Store = store })

	t.Run("small value, one big file", func(t *testing.T) {
		d := specDigest("mol-1")
		l := mustOpenLease(t, c, "mol-1", d, 1)
		big := randomBytes(t, 1<<20)
		writeFile(t, filepath.Join(l.OutDir(), "shifts.out"), big)
		writeFile(t, filepath.Join(l.OutDir(), "log", "summary.txt"), []byte("converged\n"))
		s, err := l.Seal(ctx, []byte(`{"shift_ppm": 12.5}`))
		if err != nil {
			t.Fatal(err)
		}
		if string(s.Value) != `{"shift_ppm":12.5}` {
			t.Fatalf("value %s", s.Value)
		}
		if s.Output == nil || s.Output.Bytes != 1<<20 {
			t.Fatalf("output %+v, want the 1 MiB file staged", s.Output)
		}
		var got bytes.Buffer
		if err := store.Fetch(ctx, *s.Output, &got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), big) {
			t.Fatal("staged bytes differ")
		}
		if len(s.Files) != 2 || s.Files[0].Name != "log/summary.txt" || s.Files[0].URI != "" || s.Files[1].URI == "" {
			t.Fatalf("files %+v", s.Files)
		}
		if b, err := os.ReadFile(s.Path("log/summary.txt")); err != nil || string(b) != "converged\n" {
			t.Fatalf("small file in the sealed entry: %q %v", b, err)
		}
		hit := mustHit(t, c, "mol-1", d, 2)
		if *hit.Output != *s.Output || string(hit.Value) != string(s.Value) {
			t.Fatalf("hit %+v differs from seal %+v", hit.Manifest, s.Manifest)
		}
		if ents, err := os.ReadDir(l.WorkDir()); len(ents) != 0 {
			t.Fatalf("work/ of a sealed entry holds %v (%v)", ents, err)
		}
	})

	t.Run("big value and two big files go through an index", func(t *testing.T) {
		d := specDigest("mol-2")
		l := mustOpenLease(t, c, "mol-2", d, 1)
		value := []byte(`"` + strings.Repeat("x", task.MaxValueBytes+10) + `"`)
		a, b := randomBytes(t, 100<<10), randomBytes(t, 200<<10)
		writeFile(t, filepath.Join(l.OutDir(), "a.bin"), a)
		writeFile(t, filepath.Join(l.OutDir(), "b.bin"), b)
		s, err := l.Seal(ctx, value)
		if err != nil {
			t.Fatal(err)
		}
		if s.Value != nil || s.Output == nil {
			t.Fatalf("a %d-byte value must be staged, got value %d bytes, output %+v", len(value), len(s.Value), s.Output)
		}
		var index bytes.Buffer
		if err := store.Fetch(ctx, *s.Output, &index); err != nil {
			t.Fatal(err)
		}
		var files []File
		if err := json.Unmarshal(index.Bytes(), &files); err != nil {
			t.Fatalf("index: %v", err)
		}
		want := map[string][]byte{"a.bin": a, "b.bin": b}
		for _, f := range files {
			var got bytes.Buffer
			if err := store.Fetch(ctx, task.Output{URI: f.URI, Bytes: f.Bytes, SHA256: f.SHA256}, &got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want[f.Name]) {
				t.Fatalf("%s differs", f.Name)
			}
			delete(want, f.Name)
		}
		if len(want) != 0 {
			t.Fatalf("index misses %v", want)
		}
	})
}

func TestStagingToFileStore(t *testing.T) {
	store, err := stage.FileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sealAndCheckOutputs(t, store)
}

func TestNonJSONValueBecomesAString(t *testing.T) {
	c := newTestCache(t, t.TempDir(), newClock(), nil)
	d := specDigest("plain")
	l := mustOpenLease(t, c, "plain", d, 1)
	s, err := l.Seal(context.Background(), []byte("12.5 ppm\n"))
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Value) != `"12.5 ppm\n"` {
		t.Fatalf("value %s", s.Value)
	}
}

func TestOpenRefusesBadArguments(t *testing.T) {
	c := newTestCache(t, t.TempDir(), newClock(), nil)
	d := specDigest("x")
	for _, tc := range []struct {
		id, digest string
		attempt    int
	}{
		{"../x", d, 1},
		{"x", "../../etc", 1},
		{"x", strings.ToUpper(d), 1},
		{"x", d, 0},
	} {
		if _, _, err := c.Open(tc.id, tc.digest, tc.attempt); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%q, %q, %d): want ErrInvalid, got %v", tc.id, tc.digest, tc.attempt, err)
		}
	}
}

func TestSymlinkOutputRefused(t *testing.T) {
	c := newTestCache(t, t.TempDir(), newClock(), nil)
	d := specDigest("link")
	l := mustOpenLease(t, c, "link", d, 1)
	if err := os.Symlink("/etc/passwd", filepath.Join(l.OutDir(), "passwd")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Seal(context.Background(), nil); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "passwd") {
		t.Fatalf("want ErrInvalid naming the file, got %v", err)
	}
	if _, err := os.Stat(c.sealedPath(d)); !os.IsNotExist(err) {
		t.Fatal("a refused seal became visible")
	}
}

// A sealed entry keeps no checkpoint: work/ goes when it holds anything.
// The sealing attempt's record goes to the pool: it holds and fences
// nothing, and a later attempt of the same number (after a quarantine)
// takes the lease.
func TestSealDropsCheckpointsAndRecyclesTheLease(t *testing.T) {
	clk := newClock()
	c := newTestCache(t, t.TempDir(), clk, nil)
	d := specDigest("ckpt")
	l := mustOpenLease(t, c, "ckpt", d, 1)
	writeFile(t, filepath.Join(l.WorkDir(), "step1.chk"), []byte("half way"))
	sealed, err := l.Seal(context.Background(), []byte(`1`))
	if err != nil {
		t.Fatal(err)
	}
	c.Close() // the entry is parked beside its seal until then
	if _, err := os.Stat(l.WorkDir()); !os.IsNotExist(err) {
		t.Fatalf("work/ with a checkpoint outlived the seal: %v", err)
	}
	if _, err := os.Stat(leaseFile(c.entryDir(d), 1)); !os.IsNotExist(err) {
		t.Fatalf("the sealing attempt's record outlived the seal: %v", err)
	}
	if recs, err := c.readLeases(c.entryDir(d)); err != nil || len(recs) != 0 {
		t.Fatalf("records read: %+v %v, want none", recs, err)
	}
	// Damage the seal: the next Open quarantines it, and an attempt of
	// the same number (another task of this content) takes the lease.
	mpath := sealed.manifest
	if err := os.Chmod(mpath, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mpath, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	l2 := mustOpenLease(t, c, "ckpt-twin", d, 1)
	if l2.Quarantined == "" {
		t.Fatal("the damaged seal was not quarantined")
	}
	if _, err := l2.Seal(context.Background(), []byte(`2`)); err != nil {
		t.Fatal(err)
	}
	if hit := mustHit(t, c, "ckpt", d, 2); string(hit.Value) != "2" {
		t.Fatalf("hit %s", hit.Value)
	}
}

// The seal is built in the output directory, so an output named like the
// manifest is refused, and the task's file is left as it was.
func TestOutputNamedLikeTheManifestRefused(t *testing.T) {
	c := newTestCache(t, t.TempDir(), newClock(), nil)
	d := specDigest("clash")
	l := mustOpenLease(t, c, "clash", d, 1)
	writeFile(t, filepath.Join(l.OutDir(), manifestName), []byte("mine"))
	if _, err := l.Seal(context.Background(), nil); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), manifestName) {
		t.Fatalf("want ErrInvalid naming %s, got %v", manifestName, err)
	}
	if _, err := os.Stat(c.sealedPath(d)); !os.IsNotExist(err) {
		t.Fatal("a refused seal became visible")
	}
	if b, err := os.ReadFile(filepath.Join(l.OutDir(), manifestName)); err != nil || string(b) != "mine" {
		t.Fatalf("the task's file: %q %v", b, err)
	}
}

// A staged (big) output leaves the sealed directory; a small one stays.
func TestSealedDirHoldsOnlyLocalFiles(t *testing.T) {
	c := newTestCache(t, t.TempDir(), newClock(), nil)
	d := specDigest("mixed")
	l := mustOpenLease(t, c, "mixed", d, 1)
	writeFile(t, filepath.Join(l.OutDir(), "big"), randomBytes(t, DefaultStageThreshold+1))
	writeFile(t, filepath.Join(l.OutDir(), "sub", "small"), []byte("s"))
	s, err := l.Seal(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path("big")); !os.IsNotExist(err) {
		t.Fatalf("a staged output stayed in the sealed directory: %v", err)
	}
	if b, err := os.ReadFile(s.Path("sub/small")); err != nil || string(b) != "s" {
		t.Fatalf("small output: %q %v", b, err)
	}
	if _, err := os.Stat(l.OutDir()); !os.IsNotExist(err) {
		t.Fatalf("the output directory outlived its seal: %v", err)
	}
}

// The number the issue asks for: what a hit costs on the filesystem.
func TestHitCostsAHandfulOfCalls(t *testing.T) {
	counter := newCountingFS()
	clk := newClock()
	c := newTestCache(t, t.TempDir(), clk, func(cfg *Config) { cfg.FS = counter })
	for _, tc := range []struct {
		name       string
		localFiles int
		want       int
	}{
		{"value only", 0, 2},                // open the seal (the manifest alone), chtimes
		{"value and big staged file", 0, 3}, // open the seal (a directory: its read fails), open its manifest, chtimes
		{"value and 3 small files", 3, 6},   // + one open per local file, re-hashed
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := specDigest(tc.name)
			id := "t" + strings.ReplaceAll(tc.name, " ", "-")
			l := mustOpenLease(t, c, id, d, 1)
			for i := 0; i < tc.localFiles; i++ {
				writeFile(t, filepath.Join(l.OutDir(), "f"+string(rune('a'+i))), []byte("small"))
			}
			if strings.Contains(tc.name, "big") {
				writeFile(t, filepath.Join(l.OutDir(), "big"), randomBytes(t, 200<<10))
			}
			if _, err := l.Seal(context.Background(), []byte(`{"ok":true}`)); err != nil {
				t.Fatal(err)
			}
			counter.reset()
			start := time.Now()
			mustHit(t, c, id, d, 2)
			elapsed := time.Since(start)
			calls := counter.reset()
			var total int
			for _, n := range calls {
				total += n
			}
			t.Logf("hit %q: %d filesystem calls %v in %v", tc.name, total, calls, elapsed)
			if total != tc.want {
				t.Fatalf("a hit made %d filesystem calls %v, want %d", total, calls, tc.want)
			}
		})
	}
}

func BenchmarkHit(b *testing.B) {
	counter := newCountingFS()
	c, err := New(Config{Root: b.TempDir(), FS: counter, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	d := specDigest("bench")
	_, l, err := c.Open("bench", d, 1)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := l.Seal(context.Background(), []byte(`{"shift_ppm":12.5}`)); err != nil {
		b.Fatal(err)
	}
	counter.reset()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, _, err := c.Open("bench", d, 2)
		if err != nil || s == nil {
			b.Fatalf("hit: %v", err)
		}
	}
	b.ReportMetric(float64(counter.total.Load())/float64(b.N), "fscalls/hit")
}

func TestStagingToS3Store(t *testing.T) {
	srv := s3test.Start(t, "results")
	store, err := stage.Open("s3://results/campaign", stage.Options{S3: stage.S3Options{
		Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
	}})
	if err != nil {
		t.Fatal(err)
	}
	sealAndCheckOutputs(t, store)
}

// BenchmarkMissThenSeal is the other path: Open of a new entry (a miss and
// a lease), then Seal of a small value and one small output file.
func BenchmarkMissThenSeal(b *testing.B) {
	counter := newCountingFS()
	c, err := New(Config{Root: b.TempDir(), FS: counter, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	counter.reset()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := "t" + strconv.Itoa(i)
		_, l, err := c.Open(id, specDigest(id), 1)
		if err != nil || l == nil {
			b.Fatalf("miss: %v", err)
		}
		if err := os.WriteFile(filepath.Join(l.OutDir(), "out.txt"), []byte("H1 7.26\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		if _, err := l.Seal(context.Background(), []byte(`{"shift_ppm":12.5}`)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(counter.total.Load())/float64(b.N), "fscalls/op")
}

// ls and gc walk the cache but do not walk sealed entries: a sealed entry
// costs its lease directory, a stat and a read of its manifest.
func TestListCostPerSealedEntry(t *testing.T) {
	counter := newCountingFS()
	c := newTestCache(t, t.TempDir(), newClock(), func(cfg *Config) { cfg.FS = counter })
	const n = 20
	for i := 0; i < n; i++ {
		id := "e" + strconv.Itoa(i)
		l := mustOpenLease(t, c, id, specDigest(id), 1)
		writeFile(t, filepath.Join(l.OutDir(), "a", "b", "out"), []byte("x"))
		if _, err := l.Seal(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	c.Close() // parked entries hold live leases until then
	counter.reset()
	infos, err := c.List(context.Background())
	if err != nil || len(infos) != n {
		t.Fatalf("list: %d entries, %v", len(infos), err)
	}
	calls := counter.reset()
	perEntry := calls["readdir"] + calls["stat"] + calls["open"]
	t.Logf("list of %d sealed entries: %v", n, calls)
	// 3 per entry, plus the shard directories (at most 1 + 2 per entry).
	if perEntry > 3*n+1+2*n {
		t.Fatalf("list made %d calls for %d sealed entries: %v", perEntry, n, calls)
	}
	if calls["open"] != n || calls["stat"] != n {
		t.Fatalf("list opened or stat'ed more than each manifest once: %v", calls)
	}
}
