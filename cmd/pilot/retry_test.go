package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/pilot"
)

// TestRetryWhileLive runs tasks that fail until a file exists, and
// retries them once it does while the cluster leads the campaign: the
// leader, handed the campaign back, leases them again, and the results
// end with one record per task, all done.
func TestRetryWhileLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-agent cluster")
	}
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	var b strings.Builder
	for i := 0; i < 4; i++ {
		fmt.Fprintf(&b, `{"id":"f%d","cmd":["test","-f",%q],"input":"%d","max_attempts":1}`+"\n", i, ok, i)
	}
	queue := filepath.Join(dir, "q.jsonl")
	if err := os.WriteFile(queue, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	startLocal(t, dir, queue, true)
	waitFor := func(what string, cond func(rep pilot.Report) bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			rep := statusJSON(t, queue)
			checkSums(t, rep, 4)
			if cond(rep) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within a minute: %+v", what, rep)
			}
		}
	}
	waitFor("four failed", func(rep pilot.Report) bool { return rep.Live && rep.Upstream.Failed == 4 })
	out, _, _ := runPilot(t, "results", "--queue", queue, "--failed")
	rows := 0
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == "failed" {
			rows++
		}
	}
	if rows != 4 {
		t.Fatalf("results --failed:\n%s", out)
	}
	if _, errs, code := runPilot(t, "retry", "--queue", queue); code != exitUsage {
		t.Fatalf("retry without --failed: exit %d: %s", code, errs)
	}
	if err := os.WriteFile(ok, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := runPilot(t, "retry", "--failed", "--queue", queue, "--id", "f1", "--id", "f3"); code != 0 || !strings.Contains(out, "retried 2") {
		t.Fatalf("retry: exit %d\n%s\n%s", code, out, errs)
	}
	waitFor("two done", func(rep pilot.Report) bool { return rep.Upstream.Done == 2 && rep.Upstream.Failed == 2 })
	if out, errs, code := runPilot(t, "retry", "--failed", "--queue", queue); code != 0 || !strings.Contains(out, "retried 2") {
		t.Fatalf("retry: exit %d\n%s\n%s", code, out, errs)
	}
	waitFor("four done", func(rep pilot.Report) bool { return rep.Upstream.Done == 4 && rep.Results.Records == 4 })
	out, _, _ = runPilot(t, "results", "--queue", queue, "--json")
	if n := strings.Count(out, "\n"); n != 4 || strings.Contains(out, `"state":"failed"`) {
		t.Fatalf("results --json after the retries (%d lines):\n%s", n, out)
	}
}
