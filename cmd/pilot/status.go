package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilot-hpc/pilot/pilot"
	"github.com/pilot-hpc/pilot/upstream"
)

func init() {
	var cfg pilot.CampaignConfig
	var asJSON, watch, noSlurm bool
	cmd := &cobra.Command{
		Use:   "status --queue FILE|URL [--state DIR] [--json] [--watch]",
		Short: "Show every queue a task passes through, live or not",
		Long: `Show one screen with every place a task of the campaign can be:

  upstream   pending, leased (to a cluster), done, failed, flushed: every task
             upstream knows is in exactly one, and they add up to the total;
  ledger     what the live cluster holds of the leased tasks: queued, assigned,
             running, and done/failed not yet written upstream; upstream's
             leased = those + the few in transit (leased, not yet ingested);
  pilots     each pilot (Slurm job) with its nodes, cores busy/total, time left,
             draining flag and, for Slurm job ids, its squeue state;
  nodes      cores busy/total, tasks, the oldest running task;
  waiting    why queued tasks are not placed (cores, memory, walltime, ...);
  throughput tasks/h and core-hours/h over the last minutes, utilisation since
             the leader took over and now, and the ETA at that rate;
  results    records, core-hours, cache hit rate.

The live cluster is found through the leader record STATE/leader.json, which
the leader writes when it takes over; with no live cluster, status says so and
shows upstream and the results alone. --json prints the same as one object with
stable names (upstream.pending, upstream.leased, upstream.done, upstream.failed,
upstream.flushed, total, live, ledger, pilots, nodes, waiting, throughput, eta_s,
results). --watch redraws it every second until Ctrl-C.

The leader also serves this (GET /status) and Prometheus metrics (GET /metrics)
at the address in STATE/leader.json.`,
		Example: `  pilot status --queue tasks.jsonl
  pilot status --queue tasks.jsonl --watch
  pilot status --queue https://queue:8470 --state /scratch/me/campaign --json | jq .upstream`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Queue == "" {
				return usageErr("--queue is required: a JSONL file path or an http(s):// URL")
			}
			cfg.Slurm = !noSlurm
			w, err := pilot.WatchStatus(cfg)
			if err != nil {
				return withHint(err, "check --queue and --state")
			}
			defer w.Close()
			out := cmd.OutOrStdout()
			for {
				rep, err := w.Read(cmd.Context())
				if err != nil {
					if cmd.Context().Err() != nil && watch {
						return nil
					}
					if errors.Is(err, upstream.ErrUnavailable) {
						return unavailable(err, "the queue server does not answer; try again later")
					}
					return withHint(err, "check --queue and --state")
				}
				if watch && !asJSON {
					fmt.Fprint(out, "\033[H\033[2J")
				}
				if asJSON {
					enc := json.NewEncoder(out)
					if !watch {
						enc.SetIndent("", "  ")
					}
					err = enc.Encode(rep)
				} else {
					err = rep.WriteText(out)
				}
				if err != nil || !watch {
					return err
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(time.Second):
				}
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Queue, "queue", "", "the campaign's queue: a JSONL file or an http(s):// URL")
	f.StringVar(&cfg.StateDir, "state", "", "the campaign's state directory (default QUEUE.pilot; needed with a URL to see the cluster)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object (one per line with --watch)")
	f.BoolVar(&watch, "watch", false, "redraw every second until Ctrl-C")
	f.BoolVar(&noSlurm, "no-slurm", false, "do not ask squeue for the pilots' job states")
	rootCmd.AddCommand(cmd)
}
