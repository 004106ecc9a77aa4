package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Slurm is the Scheduler for Slurm, driving its command-line tools. The
// zero value uses the tools on PATH.
type Slurm struct {
	// Bin is the directory holding sbatch, squeue, scancel and scontrol;
	// empty means PATH.
	Bin string
	// Env is added to the tools' environment (SLURM_CONF=..., for example).
	Env []string
	// Log receives one line per command; nil is slog.Default().
	Log *slog.Logger
}

var _ Scheduler = (*Slurm)(nil)

// Submit runs sbatch --parsable and returns the job id.
func (s *Slurm) Submit(ctx context.Context, req SubmitRequest) (string, error) {
	if req.Script == "" {
		return "", errors.New("submit: no batch script given")
	}
	args := []string{"--parsable"}
	add := func(flag, v string) {
		if v != "" {
			args = append(args, flag+"="+v)
		}
	}
	add("--job-name", req.Name)
	add("--chdir", req.Dir)
	add("--output", req.Output)
	add("--partition", req.Partition)
	add("--account", req.Account)
	add("--qos", req.QOS)
	if req.Nodes > 0 {
		add("--nodes", strconv.Itoa(req.Nodes))
	}
	if req.Walltime > 0 {
		add("--time", FormatDuration(req.Walltime))
	}
	if req.SignalBefore > 0 {
		add("--signal", fmt.Sprintf("B:USR1@%d", int(req.SignalBefore.Round(time.Second)/time.Second)))
	}
	var env []string
	if len(req.Env) > 0 {
		// ALL keeps the submitter's environment; the values travel in the
		// command's environment, so commas in them need no quoting.
		add("--export", "ALL")
		for k, v := range req.Env {
			env = append(env, k+"="+v)
		}
		sort.Strings(env)
	}
	args = append(append(args, req.Extra...), req.Script)
	out, err := s.run(ctx, env, "sbatch", append(args, req.Args...)...)
	if err != nil {
		return "", err
	}
	return parseSbatch(out)
}

// Status runs one squeue for all ids. Slurm omits the ids it does not know
// when it knows some of them, and fails with "Invalid job id" when it knows
// none; both come back as absent ids.
func (s *Slurm) Status(ctx context.Context, ids []string) (map[string]JobStatus, error) {
	got := make(map[string]JobStatus, len(ids))
	if len(ids) == 0 {
		return got, nil
	}
	out, err := s.run(ctx, nil, "squeue", "-h", "-t", "all", "-j", strings.Join(ids, ","), "-o", squeueFormat)
	if errors.Is(err, ErrUnknownJob) {
		return got, nil
	}
	if err != nil {
		return nil, err
	}
	jobs, err := ParseSqueue(out, time.UTC)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		got[j.ID] = j
	}
	return got, nil
}

// List runs squeue for this user's jobs named name, in every state Slurm
// still remembers.
func (s *Slurm) List(ctx context.Context, name string) ([]JobStatus, error) {
	args := []string{"-h", "-t", "all", "--me", "-o", squeueFormat}
	if name != "" {
		args = append(args, "-n", name)
	}
	out, err := s.run(ctx, nil, "squeue", args...)
	if err != nil {
		return nil, err
	}
	return ParseSqueue(out, time.UTC)
}

// Cancel runs scancel on the ids.
func (s *Slurm) Cancel(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.run(ctx, nil, "scancel", ids...)
	if errors.Is(err, ErrUnknownJob) {
		return nil
	}
	return err
}

// EndTime asks squeue for the job's end time, and scontrol when squeue
// cannot say (a job it no longer lists).
func (s *Slurm) EndTime(ctx context.Context, id string) (time.Time, error) {
	out, err := s.run(ctx, nil, "squeue", "-h", "-t", "all", "-j", id, "-o", "%T|%e")
	if err == nil && strings.TrimSpace(out) != "" {
		state, end, _ := strings.Cut(strings.TrimSpace(out), "|")
		return endTime(id, JobState(state), end)
	}
	if err != nil && !errors.Is(err, ErrUnknownJob) {
		return time.Time{}, err
	}
	out, err = s.run(ctx, nil, "scontrol", "show", "job", "-o", id)
	if err != nil {
		return time.Time{}, err
	}
	f, err := ParseScontrol(out)
	if err != nil {
		return time.Time{}, err
	}
	return endTime(id, JobState(f["JobState"]), f["EndTime"])
}

func endTime(id string, state JobState, s string) (time.Time, error) {
	t, err := ParseTime(s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("job %s: %w", id, err)
	}
	if t.IsZero() || state.Queued() {
		// A waiting job's end is only the backfill planner's guess.
		return time.Time{}, fmt.Errorf("job %s (%s, end %q): %w", id, state, s, ErrNoEndTime)
	}
	return t, nil
}

// run runs one tool, the ones that print times with those times pinned to
// one format and zone, and returns its stdout, or a *CmdError.
func (s *Slurm) run(ctx context.Context, env []string, tool string, args ...string) (string, error) {
	path := tool
	if s.Bin != "" {
		path = filepath.Join(s.Bin, tool)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(append(os.Environ(), s.Env...), env...)
	if tool != "sbatch" {
		// Not for sbatch: the job would inherit them (--export=ALL).
		cmd.Env = append(cmd.Env, "SLURM_TIME_FORMAT=standard", "TZ=UTC")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log.Debug("batch command", "cmd", tool, "args", args, "took", time.Since(start), "err", err)
	if err == nil {
		return stdout.String(), nil
	}
	ce := &CmdError{Args: append([]string{tool}, args...), ExitCode: -1, Stderr: stderr.String(), Err: err}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		ce.ExitCode = exit.ExitCode()
		ce.Err = nil
		if strings.Contains(ce.Stderr, "Invalid job id specified") {
			ce.Err = ErrUnknownJob
		}
	}
	if ctx.Err() != nil {
		ce.Err = ctx.Err()
	}
	return "", ce
}
