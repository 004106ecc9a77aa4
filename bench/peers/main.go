package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// allSystems in the order the table lists them: pilot, the floor, the peers.
var allSystems = []System{pilotSystem, xargsSystem, wqSystem, daskSystem, tspSystem, parallelSystem}

// Config is the command line.
type Config struct {
	Rounds     int
	DeepRounds int // deep runs in the first DeepRounds rounds only
	// FloorRounds more rounds of noop for pilot and xargs alone, after the
	// others: the noop target is their ratio, and they run it in seconds.
	FloorRounds int
	Quick       bool
	Systems     []string
	Workloads   []string
	Seed        uint64
	Limit       time.Duration // a peer's run is stopped after this
	FloorLimit  time.Duration // pilot's and xargs's runs are stopped after this
	Budget      time.Duration // no run starts after this
	Pilot       string
	Helpers     string
	Python      string
	Work        string
}

func main() {
	var cfg Config
	var systems, workloads string
	flag.IntVar(&cfg.Rounds, "rounds", 2, "rounds; each runs every system on every workload, systems alternating")
	flag.IntVar(&cfg.DeepRounds, "deep-rounds", 1, "rounds that include deep (its 50,000 tasks take minutes per system)")
	flag.IntVar(&cfg.FloorRounds, "floor-rounds", 8, "more rounds of noop for pilot and xargs alone, alternating (the noop target is their ratio; each round takes seconds)")
	flag.BoolVar(&cfg.Quick, "quick", false, "small workloads (noop 1,000, pack 100, deep 5,000), one round, short limits")
	flag.StringVar(&systems, "systems", "pilot,xargs,workqueue,dask,tsp,parallel", "systems to run, comma-separated")
	flag.StringVar(&workloads, "workloads", "noop,pack,pack1c,deep", "workloads to run, comma-separated")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "seed of the pack durations and slot counts")
	flag.DurationVar(&cfg.Limit, "limit", 40*time.Second, "a peer's run (workqueue, dask, tsp, parallel) is stopped after this; its rate counts what finished")
	flag.DurationVar(&cfg.FloorLimit, "floor-limit", 10*time.Minute, "pilot's and xargs's runs are stopped after this")
	flag.DurationVar(&cfg.Budget, "budget", 25*time.Minute, "no run starts after this much time")
	flag.StringVar(&cfg.Pilot, "pilot", "bin/pilot", "the pilot binary")
	flag.StringVar(&cfg.Helpers, "helpers", "bin/peers", "where the built helpers are: stamp, wqrun, daskrun.py")
	flag.StringVar(&cfg.Python, "python", "/usr/bin/python3", "the python3 that has Debian's Dask")
	flag.StringVar(&cfg.Work, "work", "", "the directory for the runs' files (default: a new temporary one, removed at the end)")
	flag.Parse()
	cfg.Systems = strings.Split(systems, ",")
	cfg.Workloads = strings.Split(workloads, ",")
	if cfg.Quick {
		cfg.Rounds, cfg.FloorRounds = 1, min(cfg.FloorRounds, 2)
		cfg.Limit = min(cfg.Limit, 20*time.Second)
		cfg.Budget = min(cfg.Budget, 5*time.Minute)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench-peers:", err)
		os.Exit(1)
	}
}

// run plans, runs the rounds and prints the table to out, progress to log.
func run(ctx context.Context, cfg Config, out, log io.Writer) error {
	sizes := FullSizes
	if cfg.Quick {
		sizes = QuickSizes
	}
	var wls []Workload
	for _, name := range cfg.Workloads {
		w, err := Generate(name, cfg.Seed, sizes)
		if err != nil {
			return fmt.Errorf("-workloads: %w", err)
		}
		wls = append(wls, w)
	}
	var syss []System
	for _, s := range allSystems {
		if slices.Contains(cfg.Systems, s.Name) {
			syss = append(syss, s)
		}
	}
	if len(syss) != len(cfg.Systems) {
		return fmt.Errorf("-systems %s: want some of pilot, xargs, workqueue, dask, tsp, parallel", strings.Join(cfg.Systems, ","))
	}
	if cfg.Work == "" {
		dir, err := os.MkdirTemp("", "bench-peers-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.Work = dir
	}
	// Each run's command starts in a directory of its own: relative paths
	// must not depend on it.
	helpers, err := filepath.Abs(cfg.Helpers)
	if err != nil {
		return err
	}
	cfg.Helpers = helpers
	if cfg.Pilot, err = binaryPath(cfg.Pilot); err != nil {
		return err
	}
	plan := NewPlan(cfg, wls, syss)
	plan.Print(log)
	res := NewResults()
	start := time.Now()
	for i, r := range plan.Runs {
		if ctx.Err() != nil {
			break
		}
		if el := time.Since(start); el > cfg.Budget {
			fmt.Fprintf(log, "budget of %s spent after %s: %d of %d runs not started\n", cfg.Budget, el.Round(time.Second), len(plan.Runs)-i, len(plan.Runs))
			break
		}
		// A run may outlast the budget by a minute at most: past that it is
		// stopped like a capped run and counts what finished.
		o, err := runOne(ctx, cfg, r, cfg.Budget-time.Since(start)+time.Minute)
		if err != nil {
			fmt.Fprintf(log, "[%d/%d] round %d %s %s: %v\n", i+1, len(plan.Runs), r.Round, r.W.Name, r.S.Name, err)
			res.Err(r, err)
			continue
		}
		fmt.Fprintf(log, "[%d/%d %s] round %d %s %s: %s\n", i+1, len(plan.Runs), time.Since(start).Round(time.Second), r.Round, r.W.Name, r.S.Name, describe(r.W, o))
		res.Add(r, o)
	}
	fmt.Fprintf(out, "\n%s\n%s\n\n", machineLine(cfg), pilotVersion(cfg.Pilot))
	res.Table(out, wls, syss)
	res.Targets(out)
	return nil
}

// runOne runs one system on one workload in a directory of its own, for at
// most left.
func runOne(ctx context.Context, cfg Config, r Run, left time.Duration) (Outcome, error) {
	dir := filepath.Join(cfg.Work, fmt.Sprintf("r%d-%s-%s", r.Round, r.W.Name, r.S.Name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Outcome{}, err
	}
	defer os.RemoveAll(dir)
	env := Env{Dir: dir, Helpers: cfg.Helpers, Pilot: cfg.Pilot, Python: cfg.Python, Limit: cfg.Limit}
	if r.S.Name == "pilot" || r.S.Name == "xargs" {
		env.Limit = cfg.FloorLimit
	}
	env.Limit = min(env.Limit, left)
	o, err := r.S.Run(ctx, env, r.W)
	if err != nil || !r.W.Sleeps() {
		return o, err
	}
	n, span, err := Span(env.StampFile())
	if err != nil {
		return o, fmt.Errorf("reading the tasks' stamps: %w", err)
	}
	if !o.Capped && n != len(r.W.Tasks) {
		return o, fmt.Errorf("%d tasks stamped, want %d", n, len(r.W.Tasks))
	}
	o.Span = span
	return o, nil
}

// describe is one progress line.
func describe(w Workload, o Outcome) string {
	s := fmt.Sprintf("%d/%d done in %.2fs (%.1f tasks/s)", o.Done, len(w.Tasks), o.Wall, float64(o.Done)/o.Wall)
	if o.Inner > 0 {
		s += fmt.Sprintf(", inner %.2fs (%.1f/s)", o.Inner, float64(o.Done)/o.Inner)
	}
	if o.Span > 0 {
		s += fmt.Sprintf(", makespan %.2fs = %.3f × lower bound", o.Span, o.Span/w.LowerBound())
	}
	if o.Failed > 0 {
		s += fmt.Sprintf(", %d failed", o.Failed)
	}
	if o.Capped {
		s += ", stopped at the limit"
	}
	return s
}

// pilotVersion is what the pilot binary says it is.
func pilotVersion(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return fmt.Sprintf("%s version: %v", bin, err)
	}
	return strings.TrimSpace(string(out))
}

// machineLine names the machine and the date of the run.
func machineLine(cfg Config) string {
	host, _ := os.Hostname()
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("%s, %d CPUs, load %s, %s, seed %d, %d round(s) and %d floor round(s) of noop for pilot and xargs", host, runtime.NumCPU(),
		strings.Join(strings.Fields(string(load))[:3], " "), time.Now().UTC().Format("2006-01-02 15:04 UTC"), cfg.Seed, cfg.Rounds, cfg.FloorRounds)
}

// binaryPath makes a relative path to a program absolute (bin/pilot) and
// leaves a bare name (pilot) to be looked up in PATH.
func binaryPath(p string) (string, error) {
	if !strings.Contains(p, "/") {
		return p, nil
	}
	return filepath.Abs(p)
}
