package runner

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A stream the task writes to gets its file; a silent one gets none, and
// a file a former run of the same attempt left is not taken for its log.
func TestLogFilesOnlyForWrittenStreams(t *testing.T) {
	r := req(t, "logs", sh(`echo shifts; exit 2`))
	if err := os.MkdirAll(r.Workdir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(r.Workdir, "attempt-1.stderr")
	if err := os.WriteFile(stale, []byte("from a former run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := Run(context.Background(), r)
	if o.Class != TaskFailed || o.Reason != ReasonExit {
		t.Fatalf("got %v/%q: %v", o.Class, o.Reason, o.Err)
	}
	if b, err := os.ReadFile(o.StdoutPath); err != nil || string(b) != "shifts\n" || o.StdoutTail != "shifts\n" {
		t.Fatalf("stdout %q (tail %q): %v", b, o.StdoutTail, err)
	}
	if o.StderrPath != "" || o.StderrTail != "" {
		t.Fatalf("stderr path %q tail %q for a task that wrote none", o.StderrPath, o.StderrTail)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("the former run's stderr is still there: %v", err)
	}
	if msg := o.Message(); !strings.Contains(msg, "its output is in "+o.StdoutPath) || strings.Contains(msg, "stderr") {
		t.Fatalf("message %q", msg)
	}

	qr := req(t, "quiet", sh(`exit 1`))
	quiet := Run(context.Background(), qr)
	if !strings.Contains(quiet.Message(), "it wrote nothing to stdout or stderr") {
		t.Fatalf("message %q", quiet.Message())
	}
	if ents, err := os.ReadDir(qr.Workdir); err != nil || len(ents) != 0 {
		t.Fatalf("a silent task's workdir holds %v (%v)", ents, err)
	}
}

// Streams longer than one copy buffer arrive whole and unmixed when tasks
// write at the same time (their copies share a pool of buffers).
func TestLongStreamsArriveWhole(t *testing.T) {
	const lines = 20000 // ~250 KB each: several 32 KB buffers
	outs := make(chan Outcome, 2)
	for _, name := range []string{"a", "b"} {
		r := req(t, name, sh(`i=0; while [ $i -lt `+strconv.Itoa(lines)+` ]; do echo "`+name+` line $i"; i=$((i+1)); done`))
		go func() { outs <- Run(context.Background(), r) }()
	}
	for range 2 {
		o := <-outs
		if o.Class != OK {
			t.Fatalf("got %v: %v", o.Class, o.Err)
		}
		b, err := os.ReadFile(o.StdoutPath)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		name := strings.Fields(got[0])[0]
		if len(got) != lines {
			t.Fatalf("%s: %d lines, want %d", name, len(got), lines)
		}
		for i, l := range got {
			if want := name + " line " + strconv.Itoa(i); l != want {
				t.Fatalf("%s: line %d is %q, want %q", name, i, l, want)
			}
		}
	}
}

// A process that left the task's group and still holds its stdout does not
// hold the attempt: once the task has exited the copies get Grace, then
// the runner closes its ends, keeping what came before.
func TestEscapedWriterDoesNotHoldTheAttempt(t *testing.T) {
	r := req(t, "escaped", sh(`echo before; setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' & while [ ! -s escaped.pid ]; do sleep 0.01; done; exit 0`))
	r.Grace = 100 * time.Millisecond
	t.Cleanup(func() {
		if b, err := os.ReadFile(filepath.Join(r.Workdir, "escaped.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	o := Run(context.Background(), r)
	if o.Class != OK || o.StdoutTail != "before\n" {
		t.Fatalf("got %v/%q (stdout %q): %v", o.Class, o.Reason, o.StdoutTail, o.Err)
	}
}
