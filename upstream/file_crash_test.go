package upstream

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

var errCrash = errors.New("injected crash")

// crashQueue writes n lines, every tenth one not a task.
func crashQueue(t *testing.T, n int) string {
	path := filepath.Join(t.TempDir(), "tasks.jsonl")
	var w bufWriter
	for i := 0; i < n; i++ {
		if i%10 == 9 {
			w.line(garbage(i))
		} else {
			w.line(taskLine(i))
		}
	}
	os.WriteFile(path, w.b, 0o600)
	return path
}

// finish leases and completes everything left, as a new writer would after
// a crash, and checks that every line ended with exactly one result.
func finish(t *testing.T, path string, c *clock, lines int) {
	t.Helper()
	q := openQ(t, path, c)
	checkInvariants(t, q, lines)
	c.Advance(48 * time.Hour) // every lease of the crashed writer expires
	for {
		ls, err := q.Lease(ctx, LeaseRequest{Cluster: "after", MaxTasks: 64, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) == 0 {
			break
		}
		if _, err := q.Complete(ctx, "after", done(specIDs(ls)...)); err != nil {
			t.Fatal(err)
		}
	}
	s := checkInvariants(t, q, lines)
	if s.Pending != 0 || s.Leased != 0 || s.Done+s.Failed != lines {
		t.Fatalf("after finishing: %+v", s)
	}
}

// A failure between the steps of each operation (results written, state
// not; archive written, state not; state not replaced) leaves a state that
// a new writer reads and finishes with exactly one result per line.
func TestFileCrashBetweenSteps(t *testing.T) {
	for _, step := range []string{"lease:results-written", "complete:results-written", "flush:archive-written", "state:write"} {
		t.Run(step, func(t *testing.T) {
			c := newClock()
			path := crashQueue(t, 40)
			armed := false
			q := openQ(t, path, c, func(o *FileOptions) {
				o.hook = func(s string) error {
					if armed && s == step {
						return errCrash
					}
					return nil
				}
			})
			ls, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 5, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			armed = true
			switch step {
			case "lease:results-written":
				_, err = q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 10, TTL: time.Hour})
			case "complete:results-written":
				_, err = q.Complete(ctx, "a", done(specIDs(ls)...))
			case "flush:archive-written":
				_, err = q.Flush(ctx)
			case "state:write":
				_, err = q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 10, TTL: time.Hour})
			}
			if !errors.Is(err, errCrash) {
				t.Fatalf("operation: %v, want the injected crash", err)
			}
			armed = false
			// The crashed queue itself still answers from the disk's state.
			checkInvariants(t, q, 40)
			finish(t, path, c, 40)
		})
	}
}

// A writer process killed with SIGKILL in the middle of leasing and
// completing leaves a state that a new writer finishes, every line with
// exactly one result.
func TestFileKilledWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, killAfter := range []int{3, 17} {
		t.Run(fmt.Sprint(killAfter), func(t *testing.T) {
			const lines = 3000
			path := crashQueue(t, lines)
			cmd := exec.Command(os.Args[0], "-test.run=^TestFileWriterChild$")
			cmd.Env = append(os.Environ(), "PILOT_TEST_WRITER_QUEUE="+path)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			sc := bufio.NewScanner(out)
			batches := 0
			for batches < killAfter && sc.Scan() {
				if _, err := strconv.Atoi(sc.Text()); err == nil {
					batches++
				}
			}
			if batches < killAfter {
				t.Fatalf("the writer stopped after %d batches: %v", batches, sc.Err())
			}
			cmd.Process.Kill()
			cmd.Wait()
			c := &clock{t: time.Now()}
			finish(t, path, c, lines)
		})
	}
}

// TestFileWriterChild is the writer that TestFileKilledWriter kills: it
// leases and completes in a loop and prints a line after each batch.
func TestFileWriterChild(t *testing.T) {
	path := os.Getenv("PILOT_TEST_WRITER_QUEUE")
	if path == "" {
		t.Skip("run by TestFileKilledWriter")
	}
	q, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		ls, err := q.Lease(ctx, LeaseRequest{Cluster: "child", MaxTasks: 7, TTL: time.Hour})
		if err != nil || len(ls) == 0 {
			t.Fatalf("lease: %d, %v", len(ls), err)
		}
		rs := done(specIDs(ls)...)
		rs[0].State = task.StateFailed
		if _, err := q.Complete(ctx, "child", rs[:len(rs)-1]); err != nil {
			t.Fatal(err)
		}
		fmt.Println(i)
	}
}

// An operation that fails part way while the queue file is also cut short
// cannot reread the state; the queue remembers that and rereads it on the
// next call, so the tasks the failed call had picked are not lost.
func TestFileFailedRereadIsRetried(t *testing.T) {
	c := newClock()
	var path string
	var whole []byte
	armed := false
	q, path := newQ(t, 6, c, func(o *FileOptions) {
		o.hook = func(step string) error {
			if armed && step == "lease:results-written" {
				armed = false
				os.WriteFile(path, whole[:10], 0o600)
				return errCrash
			}
			return nil
		}
	})
	whole, _ = os.ReadFile(path)
	leaseAll(t, q, "a", 2)
	armed = true
	c.Advance(2 * time.Hour) // every lease expires: all six are pending again
	if _, err := q.Lease(ctx, LeaseRequest{Cluster: "a", MaxTasks: 3, TTL: time.Hour}); !errors.Is(err, errCrash) {
		t.Fatalf("lease: %v", err)
	}
	os.WriteFile(path, whole, 0o600)
	if ids := leaseAll(t, q, "a", 10); len(ids) != 6 {
		t.Fatalf("after the failed lease and a restored file, leased %v, want all 6", ids)
	}
}
