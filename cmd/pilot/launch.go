package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilot-hpc/pilot/batch"
	"github.com/pilot-hpc/pilot/site"
	"github.com/pilot-hpc/pilot/upstream"
)

func init() {
	var (
		sitePath, queue, script string
		every                   time.Duration
		keepIdle                bool
	)
	cmd := &cobra.Command{
		Use:   "launch --site FILE [--queue FILE|URL]",
		Short: "Keep a campaign supplied with pilots (Slurm jobs) until its queue is drained",
		Long: `Submit pilots (sbatch pilot.sh) and keep the site's number of them alive while
work remains upstream. A running pilot's successor is queued 'overlap' before the
pilot ends (site [slurm] overlap, default a quarter of the walltime), so the
campaign never drops to zero agents while its work lasts; new pilots join the live
cluster through the members file in the campaign's state directory, or start a new
one from the queue's state when none is alive.

Every round (--every) it asks upstream how many tasks are not final yet and Slurm
which of the campaign's pilots (jobs named pilot-SITE) are queued or running, and
prints what it decides. Once upstream has no pending task left, the cluster holds
the work that remains and releases each pilot it can no longer use (idle, with no
queued task that fits its time left): then one pilot is kept, not the site's
number, for the tasks no live pilot has the time left for. When no work remains it drains the pilots that still run
(SIGUSR1, the same as the walltime warning), cancels those still queued, and exits
once all are gone. Ctrl-C stops launching and leaves the pilots at work.`,
		Example: `  pilot launch --site examples/site-local.toml --queue tasks.jsonl
  pilot launch --site site.toml --every 1m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sitePath == "" {
				return usageErr("--site is required: the site config (see examples/site-*.toml)")
			}
			if every <= 0 {
				return usageErr("--every %s: give a positive interval", every)
			}
			sc, err := site.Load(sitePath)
			if err != nil {
				return withHint(err, "fix the site config; examples/site-local.toml shows every key")
			}
			l, err := newLaunch(sc, queue, script, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			defer l.q.Close()
			l.every, l.keepIdle = every, keepIdle
			return l.run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&sitePath, "site", os.Getenv("PILOT_SITE"), "the site config file (TOML) ($PILOT_SITE)")
	f.StringVar(&queue, "queue", os.Getenv("PILOT_QUEUE"), "the campaign's queue: a JSONL file or a 'pilot serve' URL (default: the site's) ($PILOT_QUEUE)")
	f.StringVar(&script, "script", "", "the batch script (default: the site's [slurm] script, else scripts/sbatch/pilot.sh beside this binary's bin/)")
	f.DurationVar(&every, "every", 30*time.Second, "how often to look at the queue and the pilots")
	f.BoolVar(&keepIdle, "keep-idle", false, "when no work remains, leave running pilots alone (they wait for more work until their walltime)")
	rootCmd.AddCommand(cmd)
}

// launch is one `pilot launch`: a batch.Launcher fed by the upstream queue.
type launch struct {
	l        *batch.Launcher
	slurm    *batch.Slurm
	q        upstream.Queue
	out      io.Writer
	every    time.Duration
	keepIdle bool

	lastShape string          // the last printed plan's pilots and whether work remained
	lastSaid  time.Time       // when it was printed
	drained   map[string]bool // pilots already asked to drain
}

func newLaunch(sc *site.Config, queue, script string, out io.Writer) (*launch, error) {
	if queue == "" {
		queue = sc.Queue
	}
	if queue == "" {
		return nil, usageErr("no queue: give --queue FILE|URL or set 'queue' in %s", sc.Path)
	}
	if !strings.Contains(queue, "://") {
		abs, err := filepath.Abs(queue)
		if err != nil {
			return nil, err
		}
		queue = abs
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if script == "" {
		script = sc.Slurm.Script
	}
	if script == "" {
		// bin/pilot of a checkout (make build) has the script two levels up.
		script = filepath.Join(filepath.Dir(filepath.Dir(exe)), "scripts", "sbatch", "pilot.sh")
	}
	if _, err := os.Stat(script); err != nil {
		return nil, withHint(fmt.Errorf("batch script: %w", err), "give --script PATH or [slurm] script in the site config")
	}
	if err := os.MkdirAll(sc.LogDir(), 0o755); err != nil {
		return nil, withHint(fmt.Errorf("pilot log directory: %w", err), "state_dir must be a writable directory the nodes share")
	}
	q, err := upstream.Open(queue, upstream.Options{File: upstream.FileOptions{StateDir: sc.StateDir}})
	if err != nil {
		return nil, withHint(err, "the queue must exist: 'pilot submit' creates it")
	}
	req := sc.SubmitRequest(script, queue)
	if _, ok := os.LookupEnv("PILOT_BIN"); !ok {
		req.Env["PILOT_BIN"] = exe // the pilots run this very binary
	}
	s := &batch.Slurm{}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return &launch{
		l:     &batch.Launcher{Sched: s, Request: req, Policy: sc.LaunchPolicy(0), Log: quiet},
		slurm: s, q: q, out: out, drained: map[string]bool{},
	}, nil
}

// run does a round every l.every until the work is done and the pilots
// are gone, or ctx ends.
func (l *launch) run(ctx context.Context) error {
	r := l.l.Request
	l.say("launching pilots %q: %d node(s), walltime %s, keep %d, overlap %s, drain %s before the end; logs in %s",
		r.Name, r.Nodes, r.Walltime, l.l.Policy.Keep, l.l.Policy.Overlap, r.SignalBefore, filepath.Dir(r.Output))
	tick := time.NewTicker(l.every)
	defer tick.Stop()
	for {
		done, err := l.round(ctx)
		switch {
		case ctx.Err() != nil:
			return l.stopped()
		case err != nil && errors.Is(err, upstream.ErrUnavailable):
			l.say("%v; trying again in %s", err, l.every)
		case err != nil:
			return unavailable(err, "check the queue and 'squeue --me'; pilots already submitted keep working")
		case done:
			l.say("no work remains and no pilot is left: done")
			return nil
		}
		select {
		case <-ctx.Done():
			return l.stopped()
		case <-tick.C:
		}
	}
}

// round is one look at the queue and the pilots. It reports done when no
// work remains and no pilot of the campaign is queued or running.
func (l *launch) round(ctx context.Context) (bool, error) {
	st, err := l.q.Status(ctx)
	if err != nil {
		return false, fmt.Errorf("queue status: %w", err)
	}
	// Once upstream is drained the cluster holds the work left and
	// releases the pilots it cannot use: one pilot is kept, not Keep,
	// or each released pilot would be replaced by one released in turn.
	work := batch.Work{Tasks: st.Pending + st.Leased, Drained: st.Pending == 0}
	plan, ids, err := l.l.Round(ctx, time.Now(), work)
	for _, id := range ids {
		l.say("submitted pilot %s", id)
	}
	if err != nil {
		return false, err
	}
	// A line when the pilots' picture changes, else one a minute.
	shape := fmt.Sprint(plan.Want, plan.Covering, plan.Expiring, plan.Stuck, work.Tasks == 0)
	if shape != l.lastShape || time.Since(l.lastSaid) >= time.Minute {
		l.say("%d done, %d failed, %d pending, %d leased; %s", st.Done, st.Failed, st.Pending, st.Leased, plan.Why)
		l.lastShape, l.lastSaid = shape, time.Now()
	}
	if work.Tasks > 0 {
		return false, nil
	}
	return l.endIdle(ctx)
}

// endIdle drains the running pilots and cancels the queued ones once no
// work remains; it reports whether none is left.
func (l *launch) endIdle(ctx context.Context) (bool, error) {
	jobs, err := l.slurm.List(ctx, l.l.Request.Name)
	if err != nil {
		return false, err
	}
	var running, queued []string
	for _, j := range jobs {
		switch {
		case j.State.Terminal():
		case j.State.Queued():
			queued = append(queued, j.ID)
		default:
			running = append(running, j.ID)
		}
	}
	if len(running)+len(queued) == 0 {
		return true, nil
	}
	if l.keepIdle {
		return false, nil
	}
	if len(queued) > 0 {
		l.say("no work remains: cancelling queued pilot(s) %s", strings.Join(queued, ","))
		if err := l.slurm.Cancel(ctx, queued...); err != nil {
			return false, err
		}
	}
	var ask []string
	for _, id := range running {
		if !l.drained[id] {
			ask = append(ask, id)
		}
	}
	if len(ask) > 0 {
		l.say("no work remains: draining pilot(s) %s", strings.Join(ask, ","))
		if err := l.slurm.Drain(ctx, ask...); err != nil {
			return false, err
		}
		for _, id := range ask {
			l.drained[id] = true
		}
	}
	return false, nil
}

// stopped is the end after Ctrl-C: pilots keep working on their own.
func (l *launch) stopped() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	jobs, err := l.slurm.List(ctx, l.l.Request.Name)
	var alive []string
	for _, j := range jobs {
		if !j.State.Terminal() {
			alive = append(alive, j.ID)
		}
	}
	slices.Sort(alive)
	switch {
	case err != nil:
		l.say("stopped; see the pilots with: squeue --me -n %s", l.l.Request.Name)
	case len(alive) == 0:
		l.say("stopped; no pilot is queued or running")
	default:
		l.say("stopped; pilot(s) %s keep working until their walltime (scancel --batch --signal=USR1 %s drains them)",
			strings.Join(alive, ","), strings.Join(alive, " "))
	}
	return nil
}

func (l *launch) say(format string, a ...any) {
	fmt.Fprintf(l.out, "%s %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, a...))
}
