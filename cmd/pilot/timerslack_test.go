package main

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

	"golang.org/x/sys/unix"
)

// slackHelperEnv makes this test binary (TestMain) call withTimerSlack and
// print what every thread of the process it then is sleeps with.
const slackHelperEnv = "PILOT_TEST_SLACK_HELPER"

// slackReport is what the helper prints.
type slackReport struct {
	Was     time.Duration
	Err     string
	Left    string           // slackWasEnv as the program sees it
	Comm    string           // the process's name (top, pgrep)
	Threads map[string]int64 // tid: timer slack in ns
}

func slackHelper() {
	was, err := withTimerSlack(time.Millisecond)
	rep := slackReport{Was: was, Left: os.Getenv(slackWasEnv), Threads: map[string]int64{}}
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

// The agent re-executes itself so that every thread of the process, the Go
// runtime's monitor first, sleeps with its timer slack; it keeps the slack
// it was started with for its tasks, the variable that carried it over the
// exec is gone, and the process keeps its name.
func TestAgentThreadsSleepWithTimerSlack(t *testing.T) {
	started, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if started == int(time.Millisecond) {
		t.Skip("this test runs with a timer slack of 1ms already")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), slackHelperEnv+"=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	var rep slackReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("helper printed %q: %v", out, err)
	}
	if rep.Err != "" || rep.Was != time.Duration(started) || rep.Left != "" {
		t.Fatalf("withTimerSlack: was %v (want %v), err %q, %s=%q left", rep.Was, time.Duration(started), rep.Err, slackWasEnv, rep.Left)
	}
	if want := filepath.Base(os.Args[0]); rep.Comm != want[:min(len(want), 15)] {
		t.Errorf("the process is named %q after its re-execution, want %q", rep.Comm, want)
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
