package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilot-hpc/pilot/upstream"
)

// runSubmitCLI runs this test binary as the pilot command with args (see
// TestSubmitCLIMain) and returns its stdout, stderr and exit code.
func runSubmitCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSubmitCLIMain$")
	cmd.Env = append(os.Environ(), "PILOT_TEST_SUBMIT_ARGS="+strings.Join(args, "\x1f"))
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// TestSubmitCLIMain is the pilot command when runSubmitCLI starts this binary.
func TestSubmitCLIMain(t *testing.T) {
	args := os.Getenv("PILOT_TEST_SUBMIT_ARGS")
	if args == "" {
		t.Skip("run by runSubmitCLI")
	}
	os.Args = append([]string{"pilot"}, strings.Split(args, "\x1f")...)
	main()
}

func TestSubmitCommand(t *testing.T) {
	dir := t.TempDir()
	queue := filepath.Join(dir, "tasks.jsonl")
	in := filepath.Join(dir, "new.jsonl")
	os.WriteFile(in, []byte(`{"id":"a","cmd":["true"]}
{"id":"b","cmd":["true"],"corse":1}

{"id":"c","fn":"nmr","args":["CCO"]}
{"id":"a","cmd":["true"]}
`), 0o600)

	stdout, stderr, code := runSubmitCLI(t, "", "submit", "--queue", queue, in)
	if code != exitUserError {
		t.Fatalf("exit %d, want %d (some lines rejected); stderr:\n%s", code, exitUserError, stderr)
	}
	for _, want := range []string{in + `:2: invalid task: unknown field "corse"`, in + `:5: duplicate id "a"`, "2 of 4 lines rejected; the 2 valid tasks were stored", "hint: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "submitted 2 tasks") {
		t.Errorf("stdout: %q", stdout)
	}
	b, _ := os.ReadFile(queue)
	if got := strings.Count(string(b), "\n"); got != 2 {
		t.Fatalf("queue has %d lines:\n%s", got, b)
	}

	// From stdin, as JSON: the ids already stored are refused, new ones go in.
	stdout, _, code = runSubmitCLI(t, `{"id":"c","fn":"f"}`+"\n"+`{"id":"d","cmd":["x"]}`, "submit", "--queue", queue, "--json", "-")
	var rep upstream.LinesReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != exitUserError {
		t.Fatalf("exit %d, --json output %q: %v", code, stdout, err)
	}
	if rep.Accepted != 1 || len(rep.Rejected) != 1 || rep.Rejected[0].File != "stdin" || rep.Rejected[0].Line != 1 {
		t.Fatalf("report %+v", rep)
	}

	if _, stderr, code := runSubmitCLI(t, "", "submit", in); code != exitUsage || !strings.Contains(stderr, "--queue is required") {
		t.Fatalf("without --queue: exit %d, %s", code, stderr)
	}
}

func TestSubmitCommandProgress(t *testing.T) {
	queue := filepath.Join(t.TempDir(), "tasks.jsonl")
	var in strings.Builder
	for i := 0; i < 12000; i++ {
		fmt.Fprintf(&in, `{"id":"t-%d","cmd":["true"]}`+"\n", i)
	}
	stdout, stderr, code := runSubmitCLI(t, in.String(), "submit", "--queue", queue)
	if code != exitOK || !strings.Contains(stdout, "submitted 12000 tasks") {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	if n := strings.Count(stderr, "tasks stored"); n != 3 {
		t.Fatalf("%d progress lines for 12000 tasks in batches of 5000:\n%s", n, stderr)
	}
}
