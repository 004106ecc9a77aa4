package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/pilot-hpc/pilot/sim"
)

func init() {
	cfg := sim.DefaultConfig()
	var policy, workload string
	var asJSON bool
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "sim [--workload nmr|mixed|FILE] [--policy dense|fifo|both]",
		Short: "Simulate a campaign on a fake clock to measure how densely it packs",
		Long: `Simulate a whole campaign with the real ledger and the real scheduler on a fake
clock: pilots arrive after a queue wait, run for their walltime, may lose nodes and
are replaced by the launcher's rule (as many as the remaining work can use) until
the work is done; tasks run their true runtimes, which differ
from their estimates. It prints utilisation, makespan against the lower bound
(all the work spread over every core, or the longest task), idle and wasted
core-hours, and waits. The same seed replays the same run exactly.

Workloads: nmr (10-60 core-hour tasks on one whole node, estimates off by up to
30%), mixed (1 to --cores cores, 1 min to 2 h, heavy-tailed, 20% without an
estimate), or a JSONL file of tasks in the task format plus "true_s".
Policies: dense (the real scheduler) and fifo (first fit in submission order,
blind to walltime); both runs them side by side.`,
		Example: `  pilot sim --workload nmr --tasks 100000 --nodes 100 --cores 56 --walltime 24h --seed 1 --json
  pilot sim --workload mixed --policy both`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch workload {
			case sim.WorkloadNMR, sim.WorkloadMixed:
				cfg.Workload = workload
			default:
				cfg.WorkloadFile = workload
			}
			policies := []string{policy}
			switch policy {
			case "both":
				policies = []string{sim.PolicyDense, sim.PolicyFIFO}
			case sim.PolicyDense, sim.PolicyFIFO:
			default:
				return usageErr("--policy %q: use dense, fifo or both", policy)
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return usageErr("--cpuprofile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("--cpuprofile %s: %w", cpuProfile, err)
				}
				defer pprof.StopCPUProfile()
			}
			if os.Getenv("GOGC") == "" {
				// A run allocates a plan and a ledger version per event but
				// keeps little: collecting less often saves a fifth of its
				// CPU for twice the memory (230 MB at 100,000 mixed tasks).
				debug.SetGCPercent(400)
			}
			out := cmd.OutOrStdout()
			var results []sim.Result
			for _, p := range policies {
				c := cfg
				c.Policy = p
				if err := c.Validate(); err != nil {
					return usageErr("%w", err)
				}
				res, err := sim.Run(cmd.Context(), c)
				switch {
				case errors.Is(err, sim.ErrBroken):
					return withHint(err, "this is a bug in the scheduler, the ledger or the simulator: keep the command line, it replays the run exactly")
				case err != nil:
					return withHint(err, "a workload file holds one task per line in the task format, plus \"true_s\", its true runtime in seconds")
				}
				if asJSON {
					b, _ := json.Marshal(res)
					fmt.Fprintln(out, string(b))
				}
				results = append(results, res)
			}
			if asJSON {
				return nil
			}
			fmt.Fprintf(out, "workload %s, %d nodes x %d cores in %d pilot slots of %s, queue wait up to %s, node loss %g per node-pilot, window %gx live cores, the whole ledger's invariants checked every %d entries (the rest: what each entry touched)\n\n",
				workload, cfg.Nodes, cfg.Cores, cfg.Pilots, cfg.Walltime, cfg.QueueWait, cfg.NodeLoss, cfg.Window, cfg.CheckEvery)
			if err := sim.Table(out, results); err != nil {
				return err
			}
			for _, res := range results {
				if cfg.Hourly {
					fmt.Fprintf(out, "\n%s, hour by hour (idle core-h by cause; tail: after the last start)\n", res.Policy)
					if err := sim.HourTable(out, res); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&workload, "workload", sim.WorkloadNMR, "nmr, mixed, or a JSONL file of tasks with \"true_s\"")
	f.StringVar(&policy, "policy", sim.PolicyDense, "dense (the real scheduler), fifo (the walltime-blind baseline) or both")
	f.IntVar(&cfg.Tasks, "tasks", cfg.Tasks, "tasks of a built-in workload")
	f.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed of every random draw; the same seed replays the same run")
	f.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "nodes in all pilot slots together")
	f.IntVar(&cfg.Cores, "cores", cfg.Cores, "cores per node")
	f.Int64Var(&cfg.MemMB, "mem-mb", cfg.MemMB, "memory per node, MB")
	f.DurationVar(&cfg.Walltime, "walltime", cfg.Walltime, "walltime of every pilot")
	f.IntVar(&cfg.Pilots, "pilots", cfg.Pilots, "pilot slots running at once (the launcher's keep); an ending pilot is replaced while the work can use it")
	f.DurationVar(&cfg.QueueWait, "queue-wait", cfg.QueueWait, "longest batch-queue wait of a pilot (uniform from 0)")
	f.Float64Var(&cfg.NodeLoss, "node-loss", cfg.NodeLoss, "chance that a node dies during its pilot")
	f.Float64Var(&cfg.Window, "window", cfg.Window, "queued work the ledger holds, in multiples of the live cores")
	f.IntVar(&cfg.CheckEvery, "check-every", cfg.CheckEvery, "check the whole ledger's invariants after every N-th entry (1: every entry; 0: only at the end); every other entry checks what it touched")
	f.Float64Var(&cfg.Sched.Slack, "slack", cfg.Sched.Slack, "walltime rule: a task needs est*(1+slack)+margin before its pilot ends")
	f.DurationVar(&cfg.Sched.Margin, "margin", cfg.Sched.Margin, "walltime rule: the fixed margin")
	f.DurationVar(&cfg.Sched.StarveAfter, "starve-after", cfg.Sched.StarveAfter, "a task waiting this long goes first and may hold a node (0: off)")
	f.DurationVar(&cfg.Sched.NarrowStarveAfter, "starve-after-narrow", cfg.Sched.NarrowStarveAfter, "replaces --starve-after for tasks of at most half a node's cores (0: the same)")
	f.Float64Var(&cfg.Sched.ReserveShare, "reserve-share", cfg.Sched.ReserveShare, "share of the nodes starved tasks may hold (0: no reservations)")
	f.BoolVar(&cfg.Sched.GuardLanes, "guard-lanes", cfg.Sched.GuardLanes, "keep a node running no wide task for each wide task waiting")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per run")
	f.BoolVar(&cfg.Hourly, "hours", false, "print each hour's allocated, busy and idle core-hours, idle by cause (in --json: \"hours\")")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the runs to this file (read it with 'go tool pprof')")
	rootCmd.AddCommand(cmd)
}
