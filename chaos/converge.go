package chaos

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"
)

// ledgerMetrics are the lines of an agent's /metrics that come from its own
// replica of the ledger alone, so every replica that applied the same
// index shows the same ones.
var ledgerMetrics = regexp.MustCompile(`^pilot_(ledger_tasks|ledger_duplicates|ledger_late_results|ledger_applied_index|node_cores_total|node_cores_busy|node_tasks_assigned|node_draining)\b`)

var httpAddrRe = regexp.MustCompile(`msg="status HTTP" node=\S+ addr=(\S+)`)

// fingerprint is the ledger part of an agent's /metrics, sorted as served.
func (a *Agent) fingerprint(ctx context.Context) (string, error) {
	b, err := os.ReadFile(a.Log)
	if err != nil {
		return "", err
	}
	m := httpAddrRe.FindAllSubmatch(b, -1)
	if m == nil {
		return "", fmt.Errorf("agent %s logged no status HTTP address", a.Name)
	}
	addr := string(m[len(m)-1][1])
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("agent %s: GET /metrics: %w", a.Name, err)
	}
	defer resp.Body.Close()
	var out strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if ledgerMetrics.MatchString(sc.Text()) {
			out.WriteString(sc.Text() + "\n")
		}
	}
	return out.String(), sc.Err()
}

// Converged checks INV-5 on a quiet cluster: every live agent's replica of
// the ledger shows the same applied index, task counts by state and node
// table (its /metrics). Replicas may lag for a moment: it polls for up to
// d and returns the differences it saw last.
func (c *Cluster) Converged(ctx context.Context, d time.Duration) error {
	var last string
	err := c.Eventually(ctx, d, "every replica of the ledger the same", func() bool {
		prints := map[string][]string{}
		for _, a := range c.Live() {
			fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			f, err := a.fingerprint(fctx)
			cancel()
			if err != nil {
				last = err.Error()
				return false
			}
			prints[f] = append(prints[f], a.Name)
		}
		if len(prints) <= 1 {
			return true
		}
		var b strings.Builder
		for f, names := range prints {
			fmt.Fprintf(&b, "agents %v:\n%s", names, f)
		}
		last = b.String()
		return false
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("INV-5 convergent state: the replicas differ after %s:\n%s", d, last)
	}
	return err
}
