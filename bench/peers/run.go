package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Env is what every runner needs for one run.
type Env struct {
	Dir     string        // this run's own directory, removed afterwards
	Helpers string        // where stamp, wqrun and daskrun.py are
	Pilot   string        // the pilot binary
	Python  string        // the python3 that has Dask (Debian's, not a pyenv one)
	Limit   time.Duration // a run still going after this is stopped and counted as capped
}

// Outcome is what one run of one system on one workload did.
type Outcome struct {
	Wall   float64 // seconds of the whole command: start-up, work and shutdown
	Inner  float64 // the system's own figure from first submit to last result; 0: none
	Done   int     // tasks that finished with exit status 0
	Failed int
	Capped bool // stopped at Env.Limit; Done counts what finished by then
	Span   float64
}

// System is one scheduler under test.
type System struct {
	Name string
	// Skip says why the system cannot run the workload; "" when it can.
	Skip func(Workload) string
	Run  func(ctx context.Context, env Env, w Workload) (Outcome, error)
}

// StampFile is where pack tasks append their start and end.
func (e Env) StampFile() string { return filepath.Join(e.Dir, "stamps") }

// Argv is the command of task i: `true i`, or stamp sleeping its duration.
// The index makes every command distinct, as real tasks are: pilot reuses
// the sealed result of a task with the same content instead of running it.
func (e Env) Argv(i int, t Task) []string {
	if t.Dur == 0 {
		return []string{"true", strconv.Itoa(i)}
	}
	return []string{e.Stamp(), e.StampFile(), strconv.FormatFloat(t.Dur, 'f', 3, 64), strconv.Itoa(i)}
}

// Stamp is the stamp helper.
func (e Env) Stamp() string { return filepath.Join(e.Helpers, "stamp") }

// writeLines writes one line per task, as line(task) renders it.
func writeLines(path string, w Workload, line func(i int, t Task) string) error {
	var b bytes.Buffer
	for i, t := range w.Tasks {
		b.WriteString(line(i, t))
		b.WriteByte('\n')
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// command runs argv in env.Dir in its own process group, which is killed
// whole if the run outlives env.Limit, and returns stdout and the seconds it
// took. capped is true when the limit stopped it. Output goes through files,
// not pipes, so a child left running in the background (tsp's job runner)
// does not hold the command open.
func command(ctx context.Context, env Env, extraEnv []string, argv ...string) (stdout string, secs float64, capped bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, env.Limit)
	defer cancel()
	outf, err := os.CreateTemp(env.Dir, "stdout-")
	if err != nil {
		return "", 0, false, err
	}
	defer os.Remove(outf.Name())
	defer outf.Close()
	errf, err := os.CreateTemp(env.Dir, "stderr-")
	if err != nil {
		return "", 0, false, err
	}
	defer os.Remove(errf.Name())
	defer errf.Close()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = env.Dir
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Stdout, cmd.Stderr = outf, errf
	start := time.Now()
	err = cmd.Run()
	secs = time.Since(start).Seconds()
	out, _ := os.ReadFile(outf.Name())
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return string(out), secs, true, nil
	}
	if err != nil {
		errs, _ := os.ReadFile(errf.Name())
		return string(out), secs, false, fmt.Errorf("%s: %w; stderr: %s", strings.Join(argv, " "), err, tail(string(errs)))
	}
	return string(out), secs, false, nil
}

// tail keeps the end of a long stderr for an error message.
func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 600 {
		return "…" + s[len(s)-600:]
	}
	return s
}

// parseHelper reads the line "done N failed N submitted N inner_s S" that
// wqrun and daskrun.py print.
func parseHelper(out string) (Outcome, error) {
	var o Outcome
	var submitted int
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "done ") {
			_, err := fmt.Sscanf(line, "done %d failed %d submitted %d inner_s %g", &o.Done, &o.Failed, &submitted, &o.Inner)
			if err != nil {
				return o, fmt.Errorf("helper output %q: %w", line, err)
			}
			return o, nil
		}
	}
	return o, fmt.Errorf("helper printed no 'done ...' line; its output: %s", tail(out))
}
