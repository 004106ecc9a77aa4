package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/pilot-hpc/pilot/pilot"
	"github.com/pilot-hpc/pilot/upstream"
)

func init() {
	var cfg pilot.CampaignConfig
	var failed, asJSON, follow bool
	cmd := &cobra.Command{
		Use:   "results --queue FILE|URL [--failed] [--json] [--follow]",
		Short: "List the campaign's results, and follow them as they arrive",
		Long: `List the result records of the campaign, one per final task, in the order they
were recorded: a table (id, state, attempts, exit code, cache, node, runtime,
and the error or the start of the value), or with --json the records
themselves, one JSON object per line (the results.jsonl format). --failed
lists only failed tasks ('pilot retry --failed' puts them back). --follow keeps
printing new results until Ctrl-C (a queue server is long-polled).`,
		Example: `  pilot results --queue tasks.jsonl
  pilot results --queue tasks.jsonl --failed
  pilot results --queue https://queue:8470 --json --follow | jq .value`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Queue == "" {
				return usageErr("--queue is required: a JSONL file path or an http(s):// URL")
			}
			q, err := cfg.OpenQueue()
			if err != nil {
				return withHint(err, "check --queue and --state")
			}
			defer q.Close()
			err = pilot.ListResults(cmd.Context(), q, cmd.OutOrStdout(), pilot.ResultsOptions{Failed: failed, JSON: asJSON, Follow: follow})
			if err != nil && cmd.Context().Err() != nil && follow {
				err = nil
			}
			if errors.Is(err, upstream.ErrUnavailable) {
				return unavailable(err, "the queue server does not answer; try again later")
			}
			if err != nil {
				return withHint(err, "check --queue and --state")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Queue, "queue", "", "the campaign's queue: a JSONL file or an http(s):// URL")
	f.StringVar(&cfg.StateDir, "state", "", "the campaign's state directory of a file queue (default QUEUE.pilot)")
	f.BoolVar(&failed, "failed", false, "only failed tasks")
	f.BoolVar(&asJSON, "json", false, "print the result records as JSON lines")
	f.BoolVar(&follow, "follow", false, "keep printing new results until Ctrl-C")
	rootCmd.AddCommand(cmd)
}
