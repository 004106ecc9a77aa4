package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/upstream"
)

// pilotProc is 'pilot ARGS...' reading stdin (pilotCmd, status_test.go).
func pilotProc(stdin string, args ...string) *exec.Cmd {
	cmd := pilotCmd(os.TempDir(), args...)
	cmd.Stdin = strings.NewReader(stdin)
	return cmd
}

func runPilotProc(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runBounded(t, pilotProc(stdin, args...))
}

// runBounded runs a pilot command that should end by itself to its end and
// returns stdout, stderr and the exit code. One still running after two
// minutes (a server started by mistake, a hang) is killed and fails the
// test, rather than hang the whole suite until its timeout.
func runBounded(t *testing.T, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	watchdog := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	if !watchdog.Stop() {
		t.Fatalf("%v still ran after 2 minutes and was killed; stderr:\n%s", cmd.Args[1:], errb.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

var listening = regexp.MustCompile(`queue server listening addr=(\S+)`)

func TestServeAndSubmitOverHTTP(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	const submitTok, pilotTok = "submit-0123456789abcdef", "pilot-0123456789abcdef"
	os.WriteFile(tokens, []byte(fmt.Sprintf("submit %s alice\npilot %s site-a\n", submitTok, pilotTok)), 0o644)
	os.Chmod(tokens, 0o644) // group-readable whatever the umask: serve must refuse it
	_, stderr, code := runPilotProc(t, "", "serve", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--token-file", tokens)
	if code != exitUserError || !strings.Contains(stderr, "chmod 600") {
		t.Fatalf("group-readable token file: exit %d, %s", code, stderr)
	}
	os.Chmod(tokens, 0o600)

	srv := pilotProc("", "serve", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--token-file", tokens)
	errPipe, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	var addr string
	// A server that never says where it listens must not hang the test:
	// kill it after a minute, which ends the scan below.
	watchdog := time.AfterFunc(time.Minute, func() { srv.Process.Kill() })
	sc := bufio.NewScanner(errPipe)
	for sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	watchdog.Stop()
	go func() {
		for sc.Scan() {
		}
		waitErr = srv.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		srv.Process.Signal(syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			t.Error("pilot serve (pid", srv.Process.Pid, ") still holds its stderr 30s after SIGKILL")
		}
	})
	if addr == "" {
		t.Fatal("pilot serve did not report its address")
	}
	url := "http://" + addr

	in := `{"id":"a","cmd":["true"]}` + "\n" + `{"id":"../../etc/passwd","cmd":["x"]}` + "\n" + `{"id":"b","fn":"nmr","args":["CCO"]}` + "\n"
	t.Setenv("PILOT_TOKEN", submitTok)
	stdout, stderr, code := runPilotProc(t, in, "submit", "--queue", url, "-")
	if code != exitUserError || !strings.Contains(stdout, "submitted 2 tasks") || !strings.Contains(stderr, `stdin:2: invalid task: field "id"`) {
		t.Fatalf("submit: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	t.Setenv("PILOT_TOKEN", pilotTok)
	_, stderr, code = runPilotProc(t, in, "submit", "--queue", url, "-")
	if code != exitUserError || !strings.Contains(stderr, "needs role submit") {
		t.Fatalf("submit with a pilot token: exit %d, %s", code, stderr)
	}

	q, err := upstream.Open(url, upstream.Options{HTTP: upstream.HTTPOptions{Token: pilotTok}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	st, err := q.Status(context.Background())
	if err != nil || st.Pending != 2 {
		t.Fatalf("status %+v %v", st, err)
	}

	srv.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("pilot serve after SIGTERM: %v", waitErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("pilot serve ignored SIGTERM for 30s")
	}
}
