package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/pilot-hpc/pilot/pilot"
	"github.com/pilot-hpc/pilot/task"
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
			p := &resultsPrinter{w: cmd.OutOrStdout(), json: asJSON, failed: failed}
			err = listResults(cmd.Context(), q, follow, p)
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

// listResults prints every result from the start, then, when following,
// polls the cursor (long-polls a queue server) for new ones.
func listResults(ctx context.Context, q upstream.Queue, follow bool, p *resultsPrinter) error {
	waiter, _ := q.(interface {
		ResultsWait(context.Context, upstream.Cursor, int, time.Duration) ([]task.Result, upstream.Cursor, error)
	})
	var cur upstream.Cursor
	for {
		var page []task.Result
		var next upstream.Cursor
		var err error
		if follow && waiter != nil {
			page, next, err = waiter.ResultsWait(ctx, cur, 1000, 20*time.Second)
		} else {
			page, next, err = q.Results(ctx, cur, 1000)
		}
		if err != nil {
			return err
		}
		if err := p.print(page); err != nil {
			return err
		}
		if len(page) > 0 && next != cur {
			cur = next
			continue
		}
		if err := p.flush(); err != nil || !follow {
			return err
		}
		if waiter == nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	}
}

// resultsPrinter writes results as a table or as JSON lines.
type resultsPrinter struct {
	w      io.Writer
	json   bool
	failed bool
	tw     *tabwriter.Writer
}

func (p *resultsPrinter) print(rs []task.Result) error {
	if p.json {
		enc := json.NewEncoder(p.w)
		enc.SetEscapeHTML(false)
		for i := range rs {
			if p.failed && rs[i].State != task.StateFailed {
				continue
			}
			if err := enc.Encode(&rs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if p.tw == nil {
		p.tw = tabwriter.NewWriter(p.w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(p.tw, "ID\tSTATE\tATTEMPTS\tEXIT\tCACHE\tNODE\tRUNTIME\tERROR OR VALUE")
	}
	for _, r := range rs {
		if p.failed && r.State != task.StateFailed {
			continue
		}
		preview := r.Error
		if preview == "" {
			preview = string(r.Value)
			if r.Output != nil {
				preview = r.Output.URI
			}
		}
		fmt.Fprintf(p.tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", r.ID, r.State, r.Attempts, r.ExitCode, dash(r.Cache), dash(r.Node),
			(time.Duration(r.RuntimeS * float64(time.Second))).Round(time.Millisecond), clip(preview, 60))
	}
	return nil
}

func (p *resultsPrinter) flush() error {
	if p.tw == nil {
		return nil
	}
	return p.tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clip shortens s to n runes on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
