package pilot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pilot-hpc/pilot/batch"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// CampaignConfig says where a campaign is, for 'pilot status', 'pilot
// flush', 'pilot results' and 'pilot retry'.
type CampaignConfig struct {
	// Queue is the campaign's JSONL file or queue server URL.
	Queue string
	// StateDir is the campaign's state directory (default QUEUE.pilot/;
	// required with a URL to find the live cluster).
	StateDir string
	// Token authenticates to a queue server (default $PILOT_TOKEN).
	Token string
	// Slurm asks squeue for the state of pilots whose ids are Slurm job ids.
	Slurm bool
	// Timeout bounds each call to the live cluster (default 3s).
	Timeout time.Duration
}

func (c *CampaignConfig) defaults() {
	if c.StateDir == "" && !isURL(c.Queue) {
		c.StateDir = c.Queue + ".pilot"
	}
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Second
	}
}

// OpenQueue opens the campaign's upstream for reading and admin calls.
func (c CampaignConfig) OpenQueue() (upstream.Queue, error) {
	c.defaults()
	return upstream.Open(c.Queue, upstream.Options{
		HTTP: upstream.HTTPOptions{Token: c.Token, RetryFor: 5 * time.Second},
		File: upstream.FileOptions{StateDir: c.StateDir, Logger: quietLog()},
	})
}

// Report is what 'pilot status' shows: every queue a task passes through.
// Its JSON field names are stable.
type Report struct {
	At       time.Time       `json:"at"`
	Queue    string          `json:"queue"`
	StateDir string          `json:"state_dir,omitempty"`
	Upstream upstream.Status `json:"upstream"`
	// Total is every task upstream knows: pending + leased + done + failed
	// + flushed. Each task is in exactly one of them.
	Total int `json:"total"`
	// Live says whether a live cluster answered; NoCluster says why not.
	Live      bool   `json:"live"`
	NoCluster string `json:"no_cluster,omitempty"`
	Leader    string `json:"leader,omitempty"`
	// Ledger counts the tasks the cluster holds (null with no live
	// cluster; pilots and nodes are then empty). Every one of them is
	// leased upstream (until its result is written), so upstream.leased =
	// ledger queued + assigned + running + done and failed not yet written
	// upstream + InTransit (leased but not yet in the ledger, or dropped
	// from it and not yet returned).
	Ledger *ledger.Counts `json:"ledger"`
	// RetryWaiting counts the ledger's queued tasks that already had an
	// attempt (requeued after a failure or a lost node).
	RetryWaiting int            `json:"retry_waiting"`
	InTransit    int            `json:"in_transit"`
	Pilots       []PilotStatus  `json:"pilots"`
	Nodes        []NodeStatus   `json:"nodes"`
	Running      []RunningTask  `json:"running,omitempty"`
	Oldest       *RunningTask   `json:"oldest_running,omitempty"`
	Waiting      map[string]int `json:"waiting,omitempty"`
	// Throughput is the leader's measurement; ETAS the time left at that
	// rate for the pending and leased tasks (0 when unknown).
	Throughput    *Throughput `json:"throughput,omitempty"`
	ETAS          float64     `json:"eta_s,omitempty"`
	UpstreamError string      `json:"upstream_error,omitempty"`
	// Results sums the result records: cache hits among them, and the
	// core-hours they used.
	Results ResultsSummary `json:"results"`
	// Refused counts results upstream refused (late results of flushed
	// tasks), recorded in STATE/refused.jsonl.
	Refused int `json:"refused"`
}

// ResultsSummary sums result records.
type ResultsSummary struct {
	Records      int     `json:"records"`
	CacheHits    int     `json:"cache_hits"`
	CacheMisses  int     `json:"cache_misses"`
	CacheHitRate float64 `json:"cache_hit_rate"` // hits / (hits + misses)
	CoreHours    float64 `json:"core_hours"`
}

func (s *ResultsSummary) add(rs []task.Result) {
	for _, r := range rs {
		s.Records++
		s.CoreHours += r.CoreS / 3600
		switch r.Cache {
		case task.CacheHit:
			s.CacheHits++
		case task.CacheMiss:
			s.CacheMisses++
		}
	}
	if n := s.CacheHits + s.CacheMisses; n > 0 {
		s.CacheHitRate = float64(s.CacheHits) / float64(n)
	}
}

// Watcher reads a campaign's status again and again, reading only the
// results that arrived since its last read.
type Watcher struct {
	cfg     CampaignConfig
	q       upstream.Queue
	cursor  upstream.Cursor
	results ResultsSummary
	http    *http.Client
}

// WatchStatus opens a campaign for status reads.
func WatchStatus(cfg CampaignConfig) (*Watcher, error) {
	cfg.defaults()
	q, err := cfg.OpenQueue()
	if err != nil {
		return nil, err
	}
	return &Watcher{cfg: cfg, q: q, http: &http.Client{Timeout: cfg.Timeout}}, nil
}

// Close releases the queue.
func (w *Watcher) Close() error { return w.q.Close() }

// Read reads the status once: upstream (an error when it cannot be read),
// then the live cluster and Slurm (best effort: their absence is reported
// in the Report, never an error).
func (w *Watcher) Read(ctx context.Context) (*Report, error) {
	rep := &Report{At: time.Now().UTC(), Queue: w.cfg.Queue, StateDir: w.cfg.StateDir, Pilots: []PilotStatus{}, Nodes: []NodeStatus{}}
	cs, why := w.cluster(ctx)
	st, err := w.q.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("upstream status of %s: %w", w.cfg.Queue, err)
	}
	rep.Upstream = st
	rep.Total = st.Pending + st.Leased + st.Done + st.Failed + st.Flushed
	for {
		page, next, err := w.q.Results(ctx, w.cursor, 10000)
		if err != nil {
			return nil, fmt.Errorf("results of %s: %w", w.cfg.Queue, err)
		}
		w.results.add(page)
		if len(page) == 0 || next == w.cursor {
			break
		}
		w.cursor = next
	}
	rep.Results = w.results
	if w.cfg.StateDir != "" {
		if rep.Refused, err = countRefused(w.cfg.StateDir); err != nil {
			return nil, fmt.Errorf("refused results: %w", err)
		}
	}
	if cs == nil {
		rep.NoCluster = why
		return rep, nil
	}
	rep.Live, rep.Leader = true, cs.Leader
	rep.Ledger, rep.RetryWaiting = &cs.Ledger, cs.RetryWaiting
	rep.InTransit = st.Leased - cs.Ledger.Tasks()
	if cs.Pilots != nil {
		rep.Pilots = cs.Pilots
	}
	if cs.Nodes != nil {
		rep.Nodes = cs.Nodes
	}
	rep.Running, rep.Oldest, rep.Waiting = cs.Running, cs.Oldest, cs.Waiting
	rep.Throughput, rep.UpstreamError = &cs.Throughput, cs.UpstreamError
	if left := st.Pending + st.Leased; left > 0 && cs.Throughput.TasksPerH > 0 {
		rep.ETAS = float64(left) / cs.Throughput.TasksPerH * 3600
	}
	if w.cfg.Slurm {
		slurmStates(ctx, rep.Pilots)
	}
	return rep, nil
}

// cluster asks the leader named in the state directory for its status;
// on failure it says why there is no live cluster.
func (w *Watcher) cluster(ctx context.Context) (*ClusterStatus, string) {
	if w.cfg.StateDir == "" {
		return nil, "no live cluster known: give --state DIR, the campaign's state directory"
	}
	rec, err := readLeaderRecord(w.cfg.StateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "no live cluster: no pilot leads this campaign (no leader record " + filepath.Join(w.cfg.StateDir, LeaderFile) + ")"
	}
	if err != nil {
		return nil, "no live cluster: " + err.Error()
	}
	var cs ClusterStatus
	if err := getJSON(ctx, w.http, "http://"+rec.HTTP+"/status", &cs); err != nil {
		return nil, fmt.Sprintf("no live cluster: the last leader, %s (pilot %s, leading since %s), does not answer at %s: %v",
			rec.Node, rec.Pilot, rec.Since.Format(time.RFC3339), rec.HTTP, err)
	}
	return &cs, ""
}

func getJSON(ctx context.Context, c *http.Client, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var he httpError
		_ = json.NewDecoder(resp.Body).Decode(&he)
		return fmt.Errorf("%s: %s %s", url, resp.Status, he.Error)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// slurmStates fills the Slurm state of pilots whose ids are job ids, with
// one squeue, when squeue is there. Best effort: a slow or failing Slurm
// leaves the states empty.
func slurmStates(ctx context.Context, pilots []PilotStatus) {
	var ids []string
	for _, p := range pilots {
		if _, err := strconv.ParseUint(strings.Split(p.ID, "_")[0], 10, 64); err == nil {
			ids = append(ids, p.ID)
		}
	}
	if len(ids) == 0 {
		return
	}
	if _, err := exec.LookPath("squeue"); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	got, err := (&batch.Slurm{}).Status(ctx, ids)
	if err != nil {
		return
	}
	for i := range pilots {
		if js, ok := got[pilots[i].ID]; ok {
			pilots[i].SlurmState = string(js.State)
		} else if pilots[i].SlurmState == "" && slices.Contains(ids, pilots[i].ID) {
			pilots[i].SlurmState = "gone"
		}
	}
}

// quietLog passes only warnings and errors to stderr: a command's own
// output is its report.
func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
