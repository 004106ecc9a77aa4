package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
	"golang.org/x/sys/unix"
)

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func req(t *testing.T, id string, cmd []string) Request {
	t.Helper()
	return Request{
		Spec:    task.Spec{ID: id, Cmd: cmd, Cores: 1},
		Attempt: 1,
		Workdir: filepath.Join(t.TempDir(), id),
		Grace:   2 * time.Second,
	}
}

func allowedCPUs(t *testing.T) []int {
	t.Helper()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	var cpus []int
	for i := 0; i < len(set)*64; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus
}

func TestRunOK(t *testing.T) {
	cpus := allowedCPUs(t)
	pin := cpus[len(cpus)-1]
	r := req(t, "ok-1", sh(`cat > in.txt; tr '\0' '\n' < /proc/$$/environ > env.txt; grep Cpus_allowed_list /proc/self/status; echo oops >&2; printf '{"shift": 42.5}\n' > result.json`))
	r.Spec.Input = "CCO\n"
	r.Spec.Cores = 2
	r.Spec.Env = map[string]string{"MY_VAR": "x y", "PILOT_TASK_ID": "forged"}
	r.Attempt = 3
	r.CPUs = []int{pin}
	var startedPID int
	r.OnStart = func(pid int) { startedPID = pid }
	o := Run(context.Background(), r)
	if o.Class != OK || o.Err != nil {
		t.Fatalf("outcome %v %s: %v", o.Class, o.Reason, o.Err)
	}
	if o.PID == 0 || startedPID != o.PID {
		t.Fatalf("OnStart got pid %d, outcome pid %d", startedPID, o.PID)
	}
	if len(o.Affinity) != 1 || o.Affinity[0] != pin {
		t.Fatalf("kernel reports mask %v, want [%d]", o.Affinity, pin)
	}
	if string(o.Value) != `{"shift": 42.5}` {
		t.Fatalf("value %q", o.Value)
	}
	if want := "Cpus_allowed_list:\t" + strconv.Itoa(pin); !strings.Contains(o.StdoutTail, want) {
		t.Fatalf("stdout %q does not show the pin %q", o.StdoutTail, want)
	}
	if !strings.Contains(o.StderrTail, "oops") {
		t.Fatalf("stderr tail %q", o.StderrTail)
	}
	in, _ := os.ReadFile(filepath.Join(r.Workdir, "in.txt"))
	if string(in) != "CCO\n" {
		t.Fatalf("stdin was %q", in)
	}
	env, _ := os.ReadFile(filepath.Join(r.Workdir, "env.txt"))
	for _, kv := range []string{"PILOT_TASK_ID=ok-1", "PILOT_ATTEMPT=3", "PILOT_WORKDIR=" + r.Workdir, "PILOT_CORES=2", "OMP_NUM_THREADS=2", "MY_VAR=x y"} {
		if !strings.Contains(string(env), kv+"\n") {
			t.Errorf("env lacks %s", kv)
		}
	}
	if strings.Contains(string(env), "forged") {
		t.Errorf("the task's PILOT_TASK_ID reached it beside the runner's:\n%s", env)
	}
	if o.MaxRSSKB <= 0 || o.Wall <= 0 {
		t.Errorf("rusage not recorded: rss %d KiB, wall %s", o.MaxRSSKB, o.Wall)
	}
	res := o.Result(r.Spec)
	if res.State != task.StateDone || res.ExitCode != 0 || string(res.Value) != string(o.Value) || res.CoreS < res.RuntimeS*2 {
		t.Fatalf("result %+v", res)
	}
}

func TestPinningLeavesAgentThreadsAlone(t *testing.T) {
	cpus := allowedCPUs(t)
	if len(cpus) < 2 {
		t.Skip("needs 2 allowed CPUs")
	}
	for i := range 20 {
		r := req(t, "pin-"+strconv.Itoa(i), []string{"true"})
		r.CPUs = []int{cpus[i%len(cpus)]}
		o := Run(context.Background(), r)
		if o.Class != OK {
			t.Fatal(o.Err)
		}
		// `true` has often exited (not yet reaped) when its mask is read.
		if len(o.Affinity) != 1 || o.Affinity[0] != r.CPUs[0] {
			t.Fatalf("kernel reports mask %v, want %v", o.Affinity, r.CPUs)
		}
	}
	// The runtime must never hand a goroutine a thread whose mask was
	// narrowed for a task: every thread a goroutine can land on has the
	// process's full set.
	want := len(cpus)
	errs := make(chan error, 64)
	for range 64 {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var set unix.CPUSet
			if err := unix.SchedGetaffinity(0, &set); err != nil {
				errs <- err
				return
			}
			if set.Count() != want {
				errs <- fmt.Errorf("a goroutine ran on a thread pinned to %d of %d cpus", set.Count(), want)
				return
			}
			errs <- nil
		}()
	}
	for range 64 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// A task starts with the timer slack it is given (the agent's threads have
// another), and the thread that started it gets its own back.
func TestTaskTimerSlack(t *testing.T) {
	const slack = 123457 * time.Nanosecond
	for i := range 10 {
		r := req(t, "slack-"+strconv.Itoa(i), []string{"cat", "/proc/self/timerslack_ns"})
		r.TimerSlack = slack
		o := Run(context.Background(), r)
		if o.Class != OK {
			t.Fatal(o.Err)
		}
		if got := strings.TrimSpace(o.StdoutTail); got != "123457" {
			t.Fatalf("the task's timer slack is %q ns, want 123457", got)
		}
	}
	runtime.LockOSThread() // the checks stay on this thread
	defer runtime.UnlockOSThread()
	own, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if own == int(slack) {
		t.Fatal("a thread given back to the runtime kept a task's timer slack")
	}
	const other = 234567 * time.Nanosecond
	th, err := narrow(nil, other)
	if err != nil {
		t.Fatal(err)
	}
	if ns, _ := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0); ns != int(other) {
		t.Fatalf("narrowed thread's slack %d, want %d", ns, other)
	}
	if !th.restore() {
		t.Fatal("the thread's own slack could not be restored")
	}
	if ns, _ := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0); ns != own {
		t.Fatalf("the thread given back sleeps with slack %d, want its own %d", ns, own)
	}
}

func TestFailuresAreClassified(t *testing.T) {
	noexec := filepath.Join(t.TempDir(), "noexec")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		cmd    []string
		class  Class
		reason Reason
		msg    string
	}{
		{"exit", sh(`echo bad molecule >&2; exit 3`), TaskFailed, ReasonExit, "status 3; its output is in"},
		{"missing bare", []string{"no-such-program-xyz"}, TaskFailed, ReasonExec, "not in the task's PATH"},
		{"missing path", []string{"/no/such/program"}, TaskFailed, ReasonExec, "/no/such/program"},
		{"not executable", []string{noexec}, TaskFailed, ReasonExec, "permission denied"},
		{"crash", sh(`kill -SEGV $$`), TaskFailed, ReasonSignal, "signal 11"},
		{"huge result", sh(`{ printf '{"x":"'; head -c 1048576 /dev/zero | tr '\0' a; printf '"}'; } > result.json`), TaskFailed, ReasonResult, "the limit is 65536"},
		{"bad result", sh(`echo '{not json' > result.json`), TaskFailed, ReasonResult, "not valid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Run(context.Background(), req(t, "t-"+strings.ReplaceAll(c.name, " ", "-"), c.cmd))
			if o.Class != c.class || o.Reason != c.reason {
				t.Fatalf("got %v/%q (%v), want %v/%q", o.Class, o.Reason, o.Err, c.class, c.reason)
			}
			if o.Err == nil || !strings.Contains(o.Message(), c.msg) {
				t.Fatalf("message %q lacks %q", o.Message(), c.msg)
			}
		})
	}
}

func TestExitMessageCarriesStderr(t *testing.T) {
	o := Run(context.Background(), req(t, "e", sh(`echo line1 >&2; echo 'SCF did not converge' >&2; exit 1`)))
	if !strings.Contains(o.Message(), "SCF did not converge") {
		t.Fatalf("message %q", o.Message())
	}
	if res := o.Result(task.Spec{ID: "e"}); res.State != task.StateFailed || res.ExitCode != 1 || res.Error == "" {
		t.Fatalf("result %+v", res)
	}
}

func TestStaleResultIsNotReused(t *testing.T) {
	r := req(t, "stale", []string{"true"})
	if err := os.MkdirAll(r.Workdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.Workdir, ResultFile), []byte(`{"old":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if o := Run(context.Background(), r); o.Class != OK || o.Value != nil {
		t.Fatalf("got %v value %q, want OK with no value", o.Err, o.Value)
	}
}

func TestTaskPATHIsUsed(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "shift-calc"), []byte("#!/bin/sh\necho '[1,2]' > result.json\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := req(t, "path", []string{"shift-calc"})
	r.Spec.Env = map[string]string{"PATH": bin + ":/usr/bin:/bin"}
	if o := Run(context.Background(), r); o.Class != OK || string(o.Value) != "[1,2]" {
		t.Fatalf("got %v %q", o.Err, o.Value)
	}
}

func TestBadCPUIsInfraFailure(t *testing.T) {
	r := req(t, "badcpu", []string{"true"})
	r.CPUs = []int{1000}
	o := Run(context.Background(), r)
	if o.Class != InfraFailed || o.Reason != ReasonSetup {
		t.Fatalf("got %v/%q: %v", o.Class, o.Reason, o.Err)
	}
}

func TestTimeout(t *testing.T) {
	for _, c := range []struct{ name, script string }{
		{"obeys TERM", `sleep 60`},
		{"ignores TERM", `trap "" TERM; sleep 60`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := req(t, "hang", sh(c.script))
			r.Spec.TimeoutS = 0.2
			r.Grace = 200 * time.Millisecond
			o := Run(context.Background(), r)
			if o.Class != TaskFailed || o.Reason != ReasonTimeout {
				t.Fatalf("got %v/%q: %v", o.Class, o.Reason, o.Err)
			}
			if !strings.Contains(o.Message(), "timeout_s of 0.2s") {
				t.Fatalf("message %q", o.Message())
			}
		})
	}
}

// gone reports whether pid no longer runs (absent, or a zombie waiting for
// its new parent to reap it).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// waitGone polls for external processes to end, within a deadline.
func waitGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for !gone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("pid %d outlived its task", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// grandchildren is a task that starts two background sleepers (one that
// ignores TERM), writes their pids to pids.txt, and says so on a FIFO.
func grandchildren(t *testing.T, id, after string) (Request, string) {
	r := req(t, id, nil)
	fifo := filepath.Join(t.TempDir(), "ready")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	r.Spec.Cmd = sh(`sleep 300 & a=$!; (trap "" TERM; sleep 300) & b=$!; echo $a $b > pids.txt; echo ready > ` + fifo + `; ` + after)
	return r, fifo
}

func readPIDs(t *testing.T, dir string) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "pids.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		p, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p)
	}
	return pids
}

func TestCancelKillsTheWholeGroup(t *testing.T) {
	r, fifo := grandchildren(t, "cancel", "wait")
	r.Grace = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan Outcome, 1)
	go func() { done <- Run(ctx, r) }()
	ready, err := os.ReadFile(fifo) // blocks until the task wrote it
	if err != nil || strings.TrimSpace(string(ready)) != "ready" {
		t.Fatalf("fifo: %q %v", ready, err)
	}
	pids := readPIDs(t, r.Workdir)
	cancel()
	o := <-done
	if o.Class != InfraFailed || o.Reason != ReasonCancelled {
		t.Fatalf("got %v/%q: %v", o.Class, o.Reason, o.Err)
	}
	waitGone(t, append(pids, o.PID))
}

func TestLeftoverGrandchildrenAreSwept(t *testing.T) {
	r, fifo := grandchildren(t, "leftover", "exit 0")
	done := make(chan Outcome, 1)
	go func() { done <- Run(context.Background(), r) }()
	if _, err := os.ReadFile(fifo); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.Class != OK {
		t.Fatalf("got %v", o.Err)
	}
	waitGone(t, readPIDs(t, r.Workdir))
}

func TestUnreadInputDoesNotHang(t *testing.T) {
	// The largest input a task may carry, to a task that never reads it
	// and leaves a grandchild holding stdin open.
	r := req(t, "unread", sh(`sleep 300 & exit 0`))
	r.Spec.Input = strings.Repeat("x", task.MaxInputBytes)
	r.Grace = 200 * time.Millisecond
	if o := Run(context.Background(), r); o.Class != OK {
		t.Fatalf("got %v/%q: %v", o.Class, o.Reason, o.Err)
	}
}

func TestCancelledBeforeStartDoesNotRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := req(t, "pre", sh(`touch ran`))
	o := Run(ctx, r)
	if o.Class != InfraFailed || o.Reason != ReasonCancelled || o.PID != 0 {
		t.Fatalf("got %v/%q pid %d: %v", o.Class, o.Reason, o.PID, o.Err)
	}
	if _, err := os.Stat(filepath.Join(r.Workdir, "ran")); err == nil {
		t.Fatal("the task ran after its context ended")
	}
}

func TestUnpinnedTaskReportsFullMask(t *testing.T) {
	o := Run(context.Background(), req(t, "full", []string{"true"}))
	if o.Class != OK || len(o.Affinity) != len(allowedCPUs(t)) {
		t.Fatalf("got %v, mask %v", o.Err, o.Affinity)
	}
}

func TestUnresolvedFnIsRefused(t *testing.T) {
	r := req(t, "fn", nil)
	r.Spec.Fn = "nmr-shift"
	o := Run(context.Background(), r)
	if o.Class != TaskFailed || !strings.Contains(o.Message(), "site config") {
		t.Fatalf("got %v: %v", o.Class, o.Err)
	}
	if errors.Is(o.Err, syscall.ENOENT) {
		t.Fatal("unexpected")
	}
}
