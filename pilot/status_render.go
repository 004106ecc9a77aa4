package pilot

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// maxNodesShown bounds the node table of the text status.
const maxNodesShown = 40

// WriteText writes the status as one screen of text.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	u := r.Upstream
	fmt.Fprintf(&b, "campaign    %s", r.Queue)
	if r.StateDir != "" {
		fmt.Fprintf(&b, "  (state %s)", r.StateDir)
	}
	fmt.Fprintf(&b, "  at %s\n", r.At.Format("2006-01-02 15:04:05 UTC"))
	fmt.Fprintf(&b, "upstream    %d tasks = pending %d + leased %d + done %d + failed %d + flushed %d   (duplicate results %d)\n",
		r.Total, u.Pending, u.Leased, u.Done, u.Failed, u.Flushed, u.Duplicates)
	if !r.Live {
		fmt.Fprintf(&b, "cluster     %s\n", r.NoCluster)
		fmt.Fprintf(&b, "            every leased task returns to pending when its lease expires\n")
	} else {
		l := r.Ledger
		fmt.Fprintf(&b, "cluster     leader %s\n", r.Leader)
		fmt.Fprintf(&b, "ledger      queued %d (%d of them waiting to retry), assigned %d, running %d, done %d and failed %d not yet written upstream\n",
			l.Queued, r.RetryWaiting, l.Assigned, l.Running, l.Done, l.Failed)
		fmt.Fprintf(&b, "            upstream's leased %d = these %d in the ledger + %d in transit (leased, not yet ingested; negative\n            while the ledger holds results already written, or running tasks a flush dropped upstream)\n",
			u.Leased, l.Tasks(), r.InTransit)
		if len(r.Waiting) > 0 {
			keys := make([]string, 0, len(r.Waiting))
			for k := range r.Waiting {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = fmt.Sprintf("%s %d", k, r.Waiting[k])
			}
			fmt.Fprintf(&b, "waiting     queued tasks not placed, by reason: %s\n", strings.Join(parts, ", "))
		}
		if r.UpstreamError != "" {
			fmt.Fprintf(&b, "upstream error (retrying with backoff): %s\n", r.UpstreamError)
		}
		if th := r.Throughput; th != nil {
			eta := "unknown"
			if r.ETAS > 0 {
				eta = (time.Duration(r.ETAS) * time.Second).Round(time.Second).String()
			} else if u.Pending+u.Leased == 0 {
				eta = "nothing left"
			}
			fmt.Fprintf(&b, "throughput  %.1f tasks/h, %.2f core-h/h over the last %s; utilisation %.0f%% over %s, %.0f%% now; ETA %s\n",
				th.TasksPerH, th.CoreHoursPerH, (time.Duration(th.WindowS) * time.Second).Round(time.Second),
				100*th.Utilization, (time.Duration(th.SinceS) * time.Second).Round(time.Second), 100*th.UtilizationNow, eta)
		}
	}
	rs := r.Results
	fmt.Fprintf(&b, "results     %d records, %.2f core-h, cache hit rate %.0f%% (%d hits, %d misses)\n",
		rs.Records, rs.CoreHours, 100*rs.CacheHitRate, rs.CacheHits, rs.CacheMisses)
	if r.Refused > 0 {
		fmt.Fprintf(&b, "refused     %d late results of flushed or unknown tasks (recorded in %s)\n", r.Refused, RefusedFile)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if !r.Live {
		return nil
	}
	now := r.At
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPILOT\tNODES\tCORES BUSY/TOTAL\tENDS IN\tDRAINING\tSLURM")
	for _, p := range r.Pilots {
		ends := "-"
		if !p.End.IsZero() {
			ends = p.End.Sub(now).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%d/%d\t%s\t%v\t%s\n", p.ID, p.Nodes, p.CoresBusy, p.CoresTotal, ends, p.Draining, dash(p.SlurmState))
	}
	fmt.Fprintln(tw, "\nNODE\tPILOT\tCORES BUSY/TOTAL\tRUNNING\tBACKLOG\tOLDEST RUNNING")
	for i, n := range r.Nodes {
		if i == maxNodesShown {
			fmt.Fprintf(tw, "... %d more nodes (--json lists them all)\n", len(r.Nodes)-i)
			break
		}
		old := "-"
		if n.Oldest != nil {
			old = fmt.Sprintf("%s (%s)", n.Oldest.ID, (time.Duration(n.Oldest.AgeS) * time.Second).Round(time.Second))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%d\t%s\n", n.ID, n.Pilot, n.CoresBusy, n.CoresTotal, n.Running, n.Assigned, old)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
