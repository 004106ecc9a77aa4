package timerslack

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helperEnv makes this test binary (TestMain) call Ensure(time.Millisecond)
// and print what every thread of the process it then is sleeps with; each
// time an image of it starts it appends a line to the file the variable
// names.
const helperEnv = "PILOT_TEST_SLACK_HELPER"

func TestMain(m *testing.M) {
	if starts := os.Getenv(helperEnv); starts != "" {
		helper(starts)
		return
	}
	os.Exit(m.Run())
}

// report is what the helper prints.
type report struct {
	Was     time.Duration
	Err     string
	Left    string           // WasEnv as the program sees it
	Comm    string           // the process's name (top, pgrep)
	Threads map[string]int64 // tid: timer slack in ns
}

func helper(starts string) {
	f, err := os.OpenFile(starts, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err == nil {
		f.WriteString("start\n")
		f.Close()
	}
	was, err := Ensure(time.Millisecond)
	rep := report{Was: was, Left: os.Getenv(WasEnv), Threads: map[string]int64{}}
	if err != nil {
		rep.Err = err.Error()
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	rep.Comm = strings.TrimSpace(string(comm))
	ents, _ := os.ReadDir("/proc/self/task")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/timerslack_ns")
		ns, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || perr != nil {
			ns = -1 // unreadable: another thread's needs ptrace access
		}
		rep.Threads[e.Name()] = ns
	}
	_ = json.NewEncoder(os.Stdout).Encode(rep)
}

// runHelper runs the helper, started by start, and returns its report and
// how many images of it started.
func runHelper(t *testing.T, start func(*exec.Cmd) error) (report, int) {
	t.Helper()
	if cur, err := current(); err != nil {
		t.Fatal(err)
	} else if cur == time.Millisecond {
		t.Skip("this test runs with a timer slack of 1ms already")
	}
	starts := filepath.Join(t.TempDir(), "starts")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+starts)
	var out strings.Builder
	cmd.Stdout = &out
	if err := start(cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out.String())
	}
	var rep report
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("helper printed %q: %v", out.String(), err)
	}
	b, err := os.ReadFile(starts)
	if err != nil {
		t.Fatal(err)
	}
	return rep, strings.Count(string(b), "start\n")
}

// checkThreads fails the test unless every thread of the helper sleeps
// with 1ms of slack, and it kept the slack it was started with for its
// tasks, its name, and no WasEnv.
func checkThreads(t *testing.T, rep report) {
	t.Helper()
	started, _ := current()
	if rep.Err != "" || rep.Was != started || rep.Left != "" {
		t.Fatalf("Ensure: was %v (want %v), err %q, %s=%q left", rep.Was, started, rep.Err, WasEnv, rep.Left)
	}
	if want := filepath.Base(os.Args[0]); rep.Comm != want[:min(len(want), 15)] {
		t.Errorf("the process is named %q, want %q", rep.Comm, want)
	}
	if len(rep.Threads) < 2 {
		t.Fatalf("the helper has %d threads: want the runtime's too", len(rep.Threads))
	}
	for tid, ns := range rep.Threads {
		switch ns {
		case int64(time.Millisecond):
		case -1:
			t.Skipf("thread %s's timer slack is unreadable here: %s", tid, fmt.Sprint(rep.Threads))
		default:
			t.Errorf("thread %s sleeps with a timer slack of %d ns, want 1ms (all: %v)", tid, ns, rep.Threads)
		}
	}
}

// A program started as usual executes itself again so that every thread,
// the Go runtime's monitor first, sleeps with its timer slack.
func TestEnsureExecutesAgain(t *testing.T) {
	rep, images := runHelper(t, (*exec.Cmd).Start)
	checkThreads(t, rep)
	if images != 2 {
		t.Errorf("%d images of the program started, want 2 (the second with the slack)", images)
	}
}

// A program Start gave the slack already starts once ('pilot local' starts
// its agents so).
func TestStartSparesTheReexecution(t *testing.T) {
	rep, images := runHelper(t, func(cmd *exec.Cmd) error { return Start(cmd, time.Millisecond) })
	checkThreads(t, rep)
	if images != 1 {
		t.Errorf("%d images of the program started, want 1", images)
	}
}
