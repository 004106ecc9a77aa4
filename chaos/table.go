package chaos

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Row sums up the runs of one scenario for the table.
type Row struct {
	ID         int
	Scenario   string
	Runs       int
	Failed     int      // runs that broke an invariant or could not run
	FailSeeds  []uint64 // their seeds, to replay with CHAOS_SEED
	Tasks      int      // records expected, over all runs
	Lost       int
	Duplicates int
	MaxRuns    int // most executions of one task in any run
	Elections  int // terms of leadership, over all runs
	Recover    time.Duration
	Notes      []string
}

// Summarize folds runs into one row per scenario, in the order of scs.
func Summarize(scs []Scenario, runs []Run) []Row {
	var rows []Row
	for _, s := range scs {
		row := Row{ID: s.ID, Scenario: s.Name}
		for _, r := range runs {
			if r.Scenario != s.Name {
				continue
			}
			row.Runs++
			rep := r.Outcome.Report
			if r.Failed() {
				row.Failed++
				row.FailSeeds = append(row.FailSeeds, r.Seed)
			}
			row.Tasks += rep.Tasks
			row.Lost += rep.Lost
			row.Duplicates += rep.Duplicates
			row.MaxRuns = max(row.MaxRuns, rep.MaxRuns)
			row.Elections += r.Outcome.Elections
			row.Recover = max(row.Recover, r.Outcome.Recover)
			if r.Outcome.Note != "" && len(row.Notes) < 2 && !slices.Contains(row.Notes, r.Outcome.Note) {
				row.Notes = append(row.Notes, r.Outcome.Note)
			}
		}
		if row.Runs > 0 {
			rows = append(rows, row)
		}
	}
	return rows
}

// WriteTable writes rows as a Markdown table.
func WriteTable(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| # | scenario | runs | failed | tasks | lost | duplicates recorded | max executions of one task | elections | time to recover (max) | notes |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		failed := fmt.Sprint(r.Failed)
		if r.Failed > 0 {
			seeds := make([]string, len(r.FailSeeds))
			for i, s := range r.FailSeeds {
				seeds[i] = fmt.Sprint(s)
			}
			failed += " (seeds " + strings.Join(seeds, ", ") + ")"
		}
		recover := "-" // a scenario whose fault is not a moment in a run
		if r.Recover > 0 {
			recover = r.Recover.Round(time.Millisecond).String()
		}
		fmt.Fprintf(w, "| %d | %s | %d | %s | %d | %d | %d | %d | %d | %s | %s |\n", r.ID, r.Scenario, r.Runs, failed,
			r.Tasks, r.Lost, r.Duplicates, r.MaxRuns, r.Elections, recover, strings.Join(r.Notes, "; "))
	}
}
