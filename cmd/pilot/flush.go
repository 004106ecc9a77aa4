package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/pilot-hpc/pilot/pilot"
	"github.com/pilot-hpc/pilot/upstream"
)

func init() {
	var cfg pilot.CampaignConfig
	var cancelRunning, stopPilots, yes, asJSON bool
	cmd := &cobra.Command{
		Use:   "flush --queue FILE|URL [--cancel-running] [--stop-pilots] --yes",
		Short: "Reset the campaign to zero: drop every pending task, upstream and in the cluster",
		Long: `Drop every task that has no result yet, in one atomic step upstream: pending
tasks and tasks leased to a cluster are archived (a file queue writes them to
STATE/flushed/flush-TIME.jsonl; the queue server keeps them in its archive
buckets), never destroyed. Results already recorded stay.

Then, when a cluster is live (STATE/leader.json names a leader that answers),
its leader drops the same tasks from its ledger in one Raft entry and stops
their attempts that were assigned; no attempt of a dropped task starts after
flush returns. Running tasks finish, and upstream refuses their results (the
refusals are counted) unless --cancel-running, which drops and stops them too.
--stop-pilots also cancels the pilots that are Slurm jobs (scancel; best
effort: flush says what it did).

Without --yes, flush shows what it would drop and asks on a terminal; it
refuses when not on a terminal. 'pilot status' shows zero pending right after.`,
		Example: `  pilot flush --queue tasks.jsonl --yes
  pilot flush --queue tasks.jsonl --cancel-running --stop-pilots --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Queue == "" {
				return usageErr("--queue is required: a JSONL file path or an http(s):// URL")
			}
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			w, err := pilot.WatchStatus(cfg)
			if err != nil {
				return withHint(err, "check --queue and --state")
			}
			rep, err := w.Read(ctx)
			w.Close()
			if err != nil {
				return flushErr(err)
			}
			if !yes {
				if err := confirm(cmd, rep, cancelRunning, stopPilots); err != nil {
					return err
				}
			}
			start := time.Now()
			res, err := pilot.FlushCampaign(ctx, cfg, cancelRunning)
			took := time.Since(start)
			if err != nil && res.Upstream.Archive != "" {
				fmt.Fprintf(out, "upstream: dropped %d pending and %d leased tasks; archived in %s\n", res.Upstream.Pending, res.Upstream.Leased, res.Upstream.Archive)
				return unavailable(fmt.Errorf("the live cluster's ledger was not flushed: %w", err),
					"run flush again: upstream is already empty, and the cluster's ledger is flushed then")
			}
			if err != nil {
				return flushErr(err)
			}
			var stopped []string
			var stopErr error
			if stopPilots {
				stopped, stopErr = pilot.StopSlurmPilots(ctx, rep.Pilots)
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					pilot.CampaignFlush
					TookS   float64  `json:"took_s"`
					Stopped []string `json:"stopped_pilots,omitempty"`
				}{res, took.Seconds(), stopped})
			}
			fmt.Fprintf(out, "upstream: dropped %d pending and %d leased tasks in %s; archived in %s\n",
				res.Upstream.Pending, res.Upstream.Leased, took.Round(time.Millisecond), res.Upstream.Archive)
			if c := res.Cluster; c != nil {
				fmt.Fprintf(out, "cluster: leader %s dropped %d tasks from its ledger (Raft index %d) and stopped %d attempts\n", c.Leader, c.Dropped, c.Index, c.Cancelled)
				for _, e := range c.Errors {
					fmt.Fprintf(out, "  warning: %s\n", e)
				}
				if !cancelRunning {
					fmt.Fprintln(out, "cluster: running tasks finish; upstream refuses their results (--cancel-running stops them)")
				}
			} else {
				fmt.Fprintf(out, "cluster: %s; nothing else to flush\n", res.NoCluster)
			}
			if stopPilots {
				if len(stopped) > 0 {
					fmt.Fprintf(out, "pilots: cancelled Slurm jobs %s\n", strings.Join(stopped, " "))
				} else if stopErr == nil {
					fmt.Fprintln(out, "pilots: no live pilot is a Slurm job; nothing cancelled")
				}
				if stopErr != nil {
					fmt.Fprintf(out, "pilots: %v\n", stopErr)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Queue, "queue", "", "the campaign's queue: a JSONL file or an http(s):// URL")
	f.StringVar(&cfg.StateDir, "state", "", "the campaign's state directory (default QUEUE.pilot; needed with a URL to flush the cluster)")
	f.BoolVar(&cancelRunning, "cancel-running", false, "drop running tasks too and stop their attempts")
	f.BoolVar(&stopPilots, "stop-pilots", false, "cancel the pilots that are Slurm jobs (scancel)")
	f.BoolVar(&yes, "yes", false, "do it without asking")
	f.BoolVar(&asJSON, "json", false, "print what was done as JSON")
	rootCmd.AddCommand(cmd)
}

func flushErr(err error) error {
	if errors.Is(err, upstream.ErrUnavailable) {
		return unavailable(err, "nothing was flushed if upstream did not answer; run flush again")
	}
	return withHint(err, "check --queue and --state; a flush can be run again safely")
}

// confirm shows what a flush would drop and asks on a terminal.
func confirm(cmd *cobra.Command, rep *pilot.Report, cancelRunning, stopPilots bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "flush would drop %d pending and %d leased tasks of %s (archived, not destroyed)", rep.Upstream.Pending, rep.Upstream.Leased, rep.Queue)
	if rep.Live {
		l := rep.Ledger
		fmt.Fprintf(&b, ";\nthe live cluster (leader %s) would drop %d queued and %d assigned tasks", rep.Leader, l.Queued, l.Assigned)
		if cancelRunning {
			fmt.Fprintf(&b, " and stop %d running ones", l.Running)
		} else {
			fmt.Fprintf(&b, "; %d running tasks would finish and their results be refused", l.Running)
		}
		if stopPilots {
			fmt.Fprintf(&b, ";\nand cancel %d pilots", len(rep.Pilots))
		}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s.\n", b.String())
	if _, err := unix.IoctlGetTermios(int(os.Stdin.Fd()), unix.TCGETS); err != nil {
		return usageErr("not on a terminal: add --yes to flush")
	}
	fmt.Fprint(cmd.ErrOrStderr(), "Flush? (y/N) ")
	line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return withHint(errors.New("flush cancelled: nothing was dropped"), "")
	}
	return nil
}
