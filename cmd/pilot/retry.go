package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pilot-hpc/pilot/pilot"
	"github.com/pilot-hpc/pilot/upstream"
)

func init() {
	var cfg pilot.CampaignConfig
	var failed, asJSON bool
	var ids []string
	cmd := &cobra.Command{
		Use:   "retry --failed --queue FILE|URL [--id ID]...",
		Short: "Put failed tasks back in the queue, to run again with fresh attempts",
		Long: `Put every failed task (or only those named with --id) back to pending: a live
cluster leases them again and they run with fresh attempts (their max_attempts
counts again from zero). Their failed results are archived, not destroyed
(a file queue: STATE/retried/retry-TIME.jsonl; the queue server: its retried
bucket), and leave the results, so each final task keeps exactly one result
record; 'pilot results --follow' carries on from where it was.

A file queue's task that a flush archived is not retried, nor a malformed
line's failed result (fix the line and submit it under a new id). A queue
server needs an admin token.`,
		Example: `  pilot retry --failed --queue tasks.jsonl
  pilot retry --failed --queue tasks.jsonl --id mol-000017 --id mol-000042`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Queue == "" {
				return usageErr("--queue is required: a JSONL file path or an http(s):// URL")
			}
			if !failed {
				return usageErr("say --failed: retry puts failed tasks back (done tasks are never run again)")
			}
			q, err := cfg.OpenQueue()
			if err != nil {
				return withHint(err, "check --queue and --state")
			}
			defer q.Close()
			n, err := q.Retry(cmd.Context(), ids)
			switch {
			case errors.Is(err, upstream.ErrUnavailable):
				return unavailable(err, "nothing was retried if the server did not answer; run retry again")
			case err != nil:
				return withHint(err, "retry can be run again safely")
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]int{"retried": n})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "retried %d failed tasks: they are pending again\n", n)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Queue, "queue", "", "the campaign's queue: a JSONL file or an http(s):// URL")
	f.StringVar(&cfg.StateDir, "state", "", "the campaign's state directory of a file queue (default QUEUE.pilot)")
	f.BoolVar(&failed, "failed", false, "retry failed tasks (required)")
	f.StringArrayVar(&ids, "id", nil, "retry only this failed task (repeatable)")
	f.BoolVar(&asJSON, "json", false, `print {"retried": N}`)
	rootCmd.AddCommand(cmd)
}
