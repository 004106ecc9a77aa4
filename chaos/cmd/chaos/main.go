// Command chaos runs the fault-injection suite of package chaos against a
// pilot binary and writes the table of what it survived.
//
//	go run ./chaos/cmd/chaos -bin bin/pilot -runs 3 -minutes 20 -out chaos/RESULTS.md
//
// CHAOS_SEED=N replays one seed exactly (one run of each scenario chosen);
// CHAOS_RUNS and CHAOS_MINUTES bound the suite; the bounds and the seeds
// are printed at the start. Exit 1 when any run broke an invariant.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pilot-hpc/pilot/chaos"
)

func main() {
	os.Exit(run())
}

func run() int {
	bin := flag.String("bin", "bin/pilot", "the pilot binary to test")
	runs := flag.Int("runs", envInt("CHAOS_RUNS", 2), "runs of each scenario, each with its own seed ($CHAOS_RUNS)")
	minutes := flag.Float64("minutes", float64(envInt("CHAOS_MINUTES", 30)), "stop starting runs after this many minutes ($CHAOS_MINUTES)")
	scale := flag.Int("scale", envInt("CHAOS_SCALE", 1), "multiply each scenario's tasks ($CHAOS_SCALE)")
	only := flag.String("run", os.Getenv("CHAOS_RUN"), "regexp of the scenario names to run ($CHAOS_RUN)")
	out := flag.String("out", "", "write the table, the command, machine and date to this Markdown file")
	keep := flag.String("keep", os.Getenv("CHAOS_KEEP"), "keep the directories of failed runs under this directory ($CHAOS_KEEP)")
	keepAll := flag.Bool("keep-all", false, "keep the directories of every run, not only failed ones (with -keep)")
	flag.Parse()

	abs, err := filepath.Abs(*bin)
	if err != nil || !exists(abs) {
		fmt.Fprintf(os.Stderr, "chaos: the pilot binary %s does not exist\nhint: run 'make build' first, or give -bin\n", *bin)
		return 2
	}
	re, err := regexp.Compile(*only)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos: -run %q: %v\n", *only, err)
		return 2
	}
	var scs []chaos.Scenario
	for _, s := range chaos.Scenarios() {
		if re.MatchString(s.Name) {
			scs = append(scs, s)
		}
	}
	seeds := make([]uint64, *runs)
	replay := os.Getenv("CHAOS_SEED")
	for i := range seeds {
		seeds[i] = rand.Uint64() % 1_000_000
	}
	if replay != "" {
		v, err := strconv.ParseUint(replay, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "chaos: CHAOS_SEED=%q is not a number\n", replay)
			return 2
		}
		seeds = []uint64{v}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	deadline := time.Now().Add(time.Duration(*minutes * float64(time.Minute)))
	fmt.Printf("chaos: %d scenarios x %d runs (seeds %v), scale %d, at most %g minutes (starting no run after %s)\n",
		len(scs), len(seeds), seeds, *scale, *minutes, deadline.Format("15:04:05"))

	var mu sync.Mutex
	logf := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("    "+format+"\n", a...)
	}
	var all []chaos.Run
	start := time.Now()
loop:
	for _, seed := range seeds {
		for _, s := range scs {
			if time.Now().After(deadline) || ctx.Err() != nil {
				fmt.Println("chaos: out of time; the remaining runs are not started")
				break loop
			}
			dir, err := os.MkdirTemp("", "pilot-chaos-"+s.Name+"-")
			if err != nil {
				fmt.Fprintln(os.Stderr, "chaos:", err)
				return 1
			}
			fmt.Printf("--- %d %s seed %d\n", s.ID, s.Name, seed)
			rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			r := chaos.RunOne(rctx, s, abs, dir, seed, *scale, logf)
			cancel()
			all = append(all, r)
			report(r)
			if (r.Failed() || *keepAll) && *keep != "" {
				dst := filepath.Join(*keep, fmt.Sprintf("%s-%d", s.Name, seed))
				if err := os.MkdirAll(*keep, 0o700); err == nil && os.Rename(dir, dst) == nil {
					fmt.Printf("    kept in %s\n", dst)
					continue
				}
			}
			os.RemoveAll(dir)
		}
	}
	rows := chaos.Summarize(scs, all)
	chaos.WriteTable(os.Stdout, rows)
	if *out != "" {
		if err := writeResults(*out, rows, scs, seeds, *minutes, time.Since(start)); err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 1
		}
	}
	for _, r := range all {
		if r.Failed() {
			fmt.Println("chaos: FAILED; replay a failing run with CHAOS_SEED=N CHAOS_RUN=NAME make chaos")
			return 1
		}
	}
	fmt.Println("chaos: every run held every invariant")
	return 0
}

// report prints one run's outcome.
func report(r chaos.Run) {
	rep := r.Outcome.Report
	status := "ok"
	if r.Failed() {
		status = "FAILED"
	}
	fmt.Printf("    %s in %s: %d tasks, %d done, %d failed, %d flushed, %d lost, %d duplicates, max runs %d, %d elections, recover %s %s\n",
		status, r.Wall.Round(time.Millisecond), rep.Tasks, rep.Done, rep.Failed, rep.Flushed, rep.Lost, rep.Duplicates, rep.MaxRuns,
		r.Outcome.Elections, r.Outcome.Recover.Round(time.Millisecond), r.Outcome.Note)
	if r.Err != nil {
		fmt.Printf("    error: %v\n", r.Err)
	}
	for _, v := range rep.Violations {
		fmt.Printf("    violation: %s\n", v)
	}
}

// writeResults writes the Markdown file of the table with the command,
// the machine and the date.
func writeResults(path string, rows []chaos.Row, scs []chaos.Scenario, seeds []uint64, minutes float64, wall time.Duration) error {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "# Chaos suite: latest results\n\n")
	fmt.Fprintf(&b, "Command: `CHAOS_RUNS=%d CHAOS_MINUTES=%g make chaos` (seeds %v); %s; machine: %s, %d CPUs, %s/%s, %s; took %s.\n\n",
		len(seeds), minutes, seeds, time.Now().UTC().Format("2006-01-02 15:04 UTC"), host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), wall.Round(time.Second))
	chaos.WriteTable(&b, rows)
	fmt.Fprintf(&b, "\nElections count every \"leading the cluster\" line (the first leader is one). Time to recover is the longest wait, after a fault, for the next result.\n\nThe bugs this suite found and what is still open: [FINDINGS.md](FINDINGS.md).\n\n## How each scenario is scaled down\n\n")
	for _, s := range scs {
		fmt.Fprintf(&b, "- %d %s: %s\n", s.ID, s.Name, s.Scaled)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
