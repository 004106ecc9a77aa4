package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pilot-hpc/pilot/upstream"
)

func init() {
	var queue, state string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "submit --queue QUEUE [FILE|-]...",
		Short: "Validate task lines and append them to a queue",
		Long: `Read tasks, one JSON object per line (the task format in the README), from
each FILE or from standard input ("-" or no FILE), validate every line and
append the valid ones to the queue: a JSONL file (created if missing; its
state is in FILE.pilot/ or --state) or the URL of a 'pilot serve' queue.

Invalid lines, and tasks under an id the campaign has for another task, are
reported as FILE:LINE: reason on stderr and not stored. All valid tasks ARE
stored even then, and the exit status is 1: fix the lines named and submit
them again. A task the campaign already has, identical, is accepted and not
stored twice, so a submission cut short may simply be run again. Each batch
of up to 5000 tasks is one atomic append; large inputs show their progress
on stderr.`,
		Example: `  pilot submit --queue tasks.jsonl new.jsonl
  generate-tasks | pilot submit --queue http://queue:8470 -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if queue == "" {
				return usageErr("--queue is required: a JSONL file path or an http(s):// URL")
			}
			if len(args) == 0 {
				args = []string{"-"}
			}
			q, err := openSubmitQueue(queue, state)
			if err != nil {
				return err
			}
			defer q.Close()
			var total upstream.LinesReport
			for _, name := range args {
				rep, err := submitFile(cmd, q, name, total, !asJSON)
				total.Lines += rep.Lines
				total.Accepted += rep.Accepted
				total.Bytes += rep.Bytes
				total.Rejected = append(total.Rejected, rep.Rejected...)
				if !asJSON {
					for _, rj := range rep.Rejected {
						fmt.Fprintln(cmd.ErrOrStderr(), rj)
					}
				}
				if err != nil {
					if errors.Is(err, upstream.ErrUnavailable) {
						return unavailable(err, fmt.Sprintf("%d tasks were stored before this; run the same command again later: tasks already stored are not stored twice", total.Accepted))
					}
					return withHint(err, fmt.Sprintf("%d tasks were stored before this; running the same command again stores none twice", total.Accepted))
				}
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(total); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "submitted %d tasks to %s\n", total.Accepted, queue)
			}
			if n := len(total.Rejected); n > 0 {
				return withHint(fmt.Errorf("%d of %d lines rejected; the %d valid tasks were stored", n, total.Lines, total.Accepted),
					"fix the lines named above and submit only those again")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&queue, "queue", "", "the queue: a JSONL file or an http(s):// URL")
	f.StringVar(&state, "state", "", "campaign state directory of a file queue (default QUEUE.pilot)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON on stdout, rejected lines included")
	rootCmd.AddCommand(cmd)
}

// openSubmitQueue opens the queue; a file queue is created if missing.
func openSubmitQueue(queue, state string) (upstream.Queue, error) {
	if state != "" && strings.Contains(queue, "://") {
		return nil, usageErr("--state is for a file queue; a queue server keeps its own state")
	}
	q, err := upstream.Open(queue, upstream.Options{File: upstream.FileOptions{StateDir: state, Create: true}})
	if err != nil {
		return nil, withHint(err, "check --queue and --state")
	}
	return q, nil
}

// submitFile submits one input, with progress on stderr for large ones.
func submitFile(cmd *cobra.Command, q upstream.Queue, name string, before upstream.LinesReport, progress bool) (upstream.LinesReport, error) {
	var r io.Reader = cmd.InOrStdin()
	display := "stdin"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return upstream.LinesReport{}, err
		}
		defer f.Close()
		r, display = f, name
	}
	opts := upstream.SubmitLinesOptions{Name: display}
	if progress {
		stderr := cmd.ErrOrStderr()
		opts.Progress = func(rep upstream.LinesReport) {
			if before.Lines+rep.Lines < 5000 {
				return // small inputs need no progress
			}
			fmt.Fprintf(stderr, "%s: %d tasks stored, %d rejected, %.1f MB read\n",
				display, before.Accepted+rep.Accepted, len(before.Rejected)+len(rep.Rejected), float64(before.Bytes+rep.Bytes)/1e6)
		}
	}
	return upstream.SubmitLines(cmd.Context(), q, r, opts)
}
