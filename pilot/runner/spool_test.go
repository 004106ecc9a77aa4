package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// spooling returns a Spools for tests, beside their working directories.
func spooling(t *testing.T) *Spools {
	t.Helper()
	return NewSpools(filepath.Join(t.TempDir(), "spools"))
}

// names lists a directory ("" entries when it is missing).
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// runSpooled runs cmd with spools and wants it to end as class.
func runSpooled(t *testing.T, s *Spools, id string, cmd []string, class Class) Outcome {
	t.Helper()
	r := req(t, id, cmd)
	r.Spools = s
	o := Run(context.Background(), r)
	if o.Class != class {
		t.Fatalf("%s: got %v/%q: %v", id, o.Class, o.Reason, o.Err)
	}
	if err := s.Off(); err != nil {
		t.Skipf("spools are off on this filesystem: %v", err)
	}
	return o
}

// A task that prints nothing leaves no file and hands its spools to the
// next; a stream written to becomes the attempt's log, whole.
func TestSpoolsSilentAndWritten(t *testing.T) {
	s := spooling(t)
	o := runSpooled(t, s, "quiet", []string{"true"}, OK)
	if o.StdoutPath != "" || o.StderrPath != "" || len(names(t, filepath.Dir(filepath.Join(t.TempDir(), "quiet")))) != 0 {
		t.Fatalf("a silent task has logs %q %q", o.StdoutPath, o.StderrPath)
	}
	first := names(t, s.dir)
	if len(first) != 2 {
		t.Fatalf("spools after a silent task: %v, want its two", first)
	}
	r := req(t, "quiet2", []string{"true"})
	r.Spools = s
	if o := Run(context.Background(), r); o.Class != OK {
		t.Fatal(o.Err)
	}
	if ents := names(t, r.Workdir); len(ents) != 0 {
		t.Fatalf("a silent task's workdir holds %v", ents)
	}
	if again := names(t, s.dir); !slices.Equal(again, first) {
		t.Fatalf("spools %v after a second silent task, want the same %v", again, first)
	}

	o = runSpooled(t, s, "loud", sh(`i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done; echo oops >&2; exit 2`), TaskFailed)
	b, err := os.ReadFile(o.StdoutPath)
	if err != nil || filepath.Base(o.StdoutPath) != "attempt-1.stdout" {
		t.Fatalf("stdout log %q: %v", o.StdoutPath, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 20000 || lines[19999] != "line 19999" || !strings.HasSuffix(o.StdoutTail, "line 19999\n") {
		t.Fatalf("stdout log: %d lines, tail %q", len(lines), o.StdoutTail)
	}
	if e, err := os.ReadFile(o.StderrPath); err != nil || string(e) != "oops\n" || o.StderrTail != "oops\n" {
		t.Fatalf("stderr log %q (tail %q): %v", e, o.StderrTail, err)
	}
	if left := names(t, s.dir); len(left) != 0 {
		t.Fatalf("spools %v left after both became logs", left)
	}
	runSpooled(t, s, "after", []string{"true"}, OK)
	if made := names(t, s.dir); len(made) != 2 || slices.Contains(made, first[0]) {
		t.Fatalf("spools after the written ones went: %v", made)
	}
}

// A task that runs past showAfter has its log in its working directory
// while it runs; a silent one's goes again at its end.
func TestSpoolsLogVisibleWhileRunning(t *testing.T) {
	s := spooling(t)
	for _, c := range []struct {
		name, script string
		want         string
	}{{"talks", `echo started; read x < hold`, "started\n"}, {"silent", `read x < hold`, ""}} {
		r := req(t, c.name, sh(c.script))
		r.Spools = s
		if err := os.MkdirAll(r.Workdir, 0o755); err != nil {
			t.Fatal(err)
		}
		fifo := filepath.Join(r.Workdir, "hold")
		if err := unix.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		done := make(chan Outcome, 1)
		go func() { done <- Run(context.Background(), r) }()
		log := filepath.Join(r.Workdir, "attempt-1.stdout")
		for deadline := time.Now().Add(20 * showAfter); ; time.Sleep(10 * time.Millisecond) {
			if b, err := os.ReadFile(log); err == nil && string(b) == c.want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no log %q with %q while it runs", c.name, log, c.want)
			}
		}
		release, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(release, "go")
		release.Close()
		o := <-done
		if o.Class != OK {
			t.Fatalf("%s: %v", c.name, o.Err)
		}
		if err := s.Off(); err != nil {
			t.Skipf("spools are off on this filesystem: %v", err)
		}
		_, statErr := os.Stat(log)
		switch {
		case c.want == "" && (o.StdoutPath != "" || !os.IsNotExist(statErr)):
			t.Fatalf("%s: a silent task's log stayed: %q %v", c.name, o.StdoutPath, statErr)
		case c.want != "" && (o.StdoutPath != log || statErr != nil || o.StdoutTail != c.want):
			t.Fatalf("%s: log %q (%v), tail %q", c.name, o.StdoutPath, statErr, o.StdoutTail)
		}
	}
	if left := names(t, s.dir); len(left) != 2 {
		t.Fatalf("spools %v, want the silent task's two (the talking one's stdout became its log)", left)
	}
}

// A spool that a process outside the task's group still holds is not
// handed to another task (its writes would land in that task's log) while
// it holds it.
func TestSpoolsHeldOpenWait(t *testing.T) {
	s := spooling(t)
	r := req(t, "escaped", sh(`setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' & while [ ! -s escaped.pid ]; do sleep 0.01; done; exit 0`))
	r.Spools = s
	t.Cleanup(func() {
		if b, err := os.ReadFile(filepath.Join(r.Workdir, "escaped.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	if o := Run(context.Background(), r); o.Class != OK {
		t.Fatalf("got %v: %v", o.Class, o.Err)
	}
	if err := s.Off(); err != nil {
		t.Skipf("spools are off on this filesystem: %v", err)
	}
	runSpooled(t, s, "next", []string{"true"}, OK)
	s.mu.Lock()
	held, made := len(s.held), s.n
	s.mu.Unlock()
	if held != 2 || made != 4 {
		t.Fatalf("%d spools held and %d made: the escaped process's two must wait, the next task gets two new", held, made)
	}
}
