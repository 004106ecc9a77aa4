package scratchcache

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pilot-hpc/pilot/scratchcache/stage"
)

// mountTmpfs mounts a 1 MiB tmpfs for the test and unmounts it at the end.
func mountTmpfs(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a 1 MiB tmpfs to fill (needs root or CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			out, _ := exec.Command("umount", "-l", dir).CombinedOutput()
			t.Errorf("unmount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// A full disk fails the seal as an infra error naming the path, leaves no
// trace of the seal, keeps the attempt's work and every other entry intact,
// and the retry seals once there is room.
func TestDiskFullFailsInfraOthersIntact(t *testing.T) {
	ctx := context.Background()
	mnt := mountTmpfs(t)
	store, err := stage.FileStore(filepath.Join(mnt, "results"))
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	c := newTestCache(t, filepath.Join(mnt, "cache"), clk, func(cfg *Config) { cfg.Store = store })

	good := specDigest("good")
	l := mustOpenLease(t, c, "good", good, 1)
	writeFile(t, filepath.Join(l.OutDir(), "small.out"), bytes.Repeat([]byte{'g'}, 5000))
	if _, err := l.Seal(ctx, []byte(`"good"`)); err != nil {
		t.Fatal(err)
	}

	checkFailure := func(t *testing.T, err error, d string, l *Lease) {
		t.Helper()
		if !errors.Is(err, ErrInfra) || !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("want ErrInfra and ErrNoSpace (ENOSPC), got %v", err)
		}
		if !strings.Contains(err.Error(), mnt) {
			t.Fatalf("the error does not name the path: %v", err)
		}
		t.Logf("disk full error: %v", err)
		if _, err := os.Stat(c.sealedPath(d)); !os.IsNotExist(err) {
			t.Fatalf("a failed seal is visible: %v", err)
		}
		if _, err := os.Stat(filepath.Join(l.OutDir(), manifestName)); !os.IsNotExist(err) {
			t.Fatalf("the failed seal left its manifest: %v", err)
		}
		if b, err := os.ReadFile(filepath.Join(l.WorkDir(), "ckpt")); err != nil || string(b) != "half way" {
			t.Fatalf("the checkpoint was lost: %q %v", b, err)
		}
		if hit := mustHit(t, c, "good", good, 2); string(hit.Value) != `"good"` {
			t.Fatalf("the other entry changed: %+v", hit.Manifest)
		}
		if problems, _, err := c.Verify(ctx, VerifyOptions{}); err != nil || len(problems) != 0 {
			t.Fatalf("verify after the failure: %+v %v", problems, err)
		}
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("results store full", func(t *testing.T) {
		d := specDigest("big")
		l := mustOpenLease(t, c, "big", d, 1)
		writeFile(t, filepath.Join(l.WorkDir(), "ckpt"), []byte("half way"))
		writeFile(t, filepath.Join(l.OutDir(), "big.out"), randomBytes(t, 600<<10))
		_, err := l.Seal(ctx, []byte(`1`))
		if _, again := l.Seal(ctx, []byte(`1`)); !errors.Is(again, ErrInvalid) {
			t.Fatalf("a second Seal after a failed one: want ErrInvalid, got %v", again)
		}
		checkFailure(t, err, d, l)
		if tmp, _ := filepath.Glob(filepath.Join(mnt, "results", "*", "*", d, "a1", "*.tmp-*")); len(tmp) != 0 {
			t.Fatalf("the store kept a partial object: %v", tmp)
		}

		// The retry, with a smaller output, fits (the new attempt's Open
		// removed the old attempt's output directory).
		l2 := mustOpenLease(t, c, "big", d, 2)
		writeFile(t, filepath.Join(l2.OutDir(), "big.out"), randomBytes(t, 100<<10))
		if _, err := l2.Seal(ctx, []byte(`1`)); err != nil {
			t.Fatalf("retry with room: %v", err)
		}
	})

	t.Run("scratch full", func(t *testing.T) {
		d := specDigest("full")
		l := mustOpenLease(t, c, "full", d, 1)
		writeFile(t, filepath.Join(l.WorkDir(), "ckpt"), []byte("half way"))
		filler := filepath.Join(mnt, "filler")
		f, err := os.Create(filler)
		if err != nil {
			t.Fatal(err)
		}
		_, werr := f.Write(make([]byte, 2<<20))
		f.Close()
		if !errors.Is(werr, syscall.ENOSPC) {
			t.Fatalf("filling the tmpfs: %v", werr)
		}
		_, err = l.Seal(ctx, []byte(`"a value"`))
		checkFailure(t, err, d, l)
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	})
}
