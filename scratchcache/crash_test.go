package scratchcache

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A task writes a checkpoint and is killed (its node lost, the agent gone
// with it: the lease is never released). The retry takes the stale lease
// over, finds the checkpoint and finishes from it.
func TestCheckpointThenKillRetryResumes(t *testing.T) {
	root := t.TempDir()
	clk := newClock()
	c := newTestCache(t, root, clk, nil)
	d := specDigest("mol-42")

	l1 := mustOpenLease(t, c, "mol-42", d, 1)
	run1 := startChild(t, "task", append(l1.Env(), "STOP_AFTER_STEP=1")...)
	run1.expect(t, "checkpointed 1")
	run1.kill9(t)

	// Before the lease goes stale the retry must wait.
	if _, _, err := c.Open("mol-42", d, 2); err == nil || !strings.Contains(err.Error(), "held by attempt 1") {
		t.Fatalf("retry before the lease went stale: %v", err)
	}
	clk.Advance(2 * time.Minute)
	l2 := mustOpenLease(t, c, "mol-42", d, 2)
	run2 := startChild(t, "task", l2.Env()...)
	value := run2.expect(t, "")
	if err := <-run2.exited; err != nil {
		t.Fatalf("retry failed: %v", err)
	}
	run2.exited <- nil
	var v struct {
		ResumedFrom int    `json:"resumed_from"`
		Ran         string `json:"ran"`
	}
	if err := json.Unmarshal([]byte(value), &v); err != nil {
		t.Fatalf("value %q: %v", value, err)
	}
	if v.ResumedFrom != 1 || v.Ran != "23" {
		t.Fatalf("retry resumed from step %d and ran steps %q, want from 1 running 23", v.ResumedFrom, v.Ran)
	}
	s, err := l2.Seal(context.Background(), []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Files) != 1 || s.Files[0].Name != "shifts.out" {
		t.Fatalf("sealed files %+v", s.Files)
	}
	// A third attempt is a hit and never runs.
	if hit := mustHit(t, c, "mol-42", d, 3); string(hit.Value) != `{"resumed_from":1,"ran":"23"}` {
		t.Fatalf("hit value %s", hit.Value)
	}
}

// A process killed in the middle of sealing (everything written, the
// publishing rename not yet done): no reader ever sees the entry, and the
// next attempt recovers and seals.
func TestCrashMidSealLeavesNoHalfEntry(t *testing.T) {
	root := t.TempDir()
	d := specDigest("crashy")
	sealer := startChild(t, "sealer", "SC_ROOT="+root, "SC_DIGEST="+d, "SC_ATTEMPT=1")
	sealer.expect(t, "publishing")

	// While the seal is complete but unpublished, and after the crash, a
	// reader sees no entry (it would be told the entry is held).
	clk := &clock{now: time.Now()}
	c := newTestCache(t, root, clk, nil)
	dir := c.entryDir(d)
	if _, err := os.Stat(c.sealedPath(d)); !os.IsNotExist(err) {
		t.Fatalf("the seal is visible before the rename: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, outPrefix+"1", manifestName)); err != nil {
		t.Fatalf("want the crashed seal complete in its output directory: %v", err)
	}
	sealer.kill9(t)
	if s, _, err := c.Open("crashy", d, 2); s != nil || err == nil {
		t.Fatalf("after the crash: hit %v, err %v; want held by the dead attempt", s, err)
	}

	clk.Advance(3 * time.Minute)
	l2 := mustOpenLease(t, c, "crashy", d, 2)
	if _, err := os.Stat(filepath.Join(dir, outPrefix+"1")); !os.IsNotExist(err) {
		t.Fatalf("the crashed seal was not cleaned: %v", err)
	}
	writeFile(t, filepath.Join(l2.OutDir(), "result.dat"), []byte("from attempt 2"))
	s, err := l2.Seal(context.Background(), []byte(`"recovered"`))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(s.Path("result.dat")); string(b) != "from attempt 2" {
		t.Fatalf("sealed file %q", b)
	}
	if hit := mustHit(t, c, "crashy", d, 3); hit.Attempt != 2 || string(hit.Value) != `"recovered"` {
		t.Fatalf("hit %+v", hit.Manifest)
	}
}
