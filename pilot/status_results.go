package pilot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// ResultsOptions says how ListResults prints.
type ResultsOptions struct {
	Failed bool // only failed tasks
	JSON   bool // the records as JSON lines, else a table
	Follow bool // keep printing new results until ctx ends
}

// ListResults prints the campaign's results to w from the first on: a
// table (id, state, attempts, exit code, cache, node, runtime, error or
// value preview) or JSON lines. Following, it polls the cursor once a
// second, or long-polls a queue server, until ctx ends.
func ListResults(ctx context.Context, q upstream.Queue, w io.Writer, opts ResultsOptions) error {
	return listResults(ctx, q, opts.Follow, &resultsPrinter{w: w, json: opts.JSON, failed: opts.Failed})
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

// clip shortens s to n runes on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
