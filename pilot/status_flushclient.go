package pilot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/pilot-hpc/pilot/authconn"
	"github.com/pilot-hpc/pilot/batch"
	"github.com/pilot-hpc/pilot/upstream"
)

// CampaignFlush is what 'pilot flush' did: upstream's archive of the
// pending and leased tasks, then the live cluster's flush of its ledger.
type CampaignFlush struct {
	Upstream upstream.FlushReport `json:"upstream"`
	// Cluster is the leader's report; nil when no cluster is live
	// (NoCluster says why), so there was no ledger to flush.
	Cluster   *ClusterFlush `json:"cluster,omitempty"`
	NoCluster string        `json:"no_cluster,omitempty"`
}

// FlushCampaign drops every pending and leased task upstream in one atomic
// step (archived, never destroyed), then tells the live cluster's leader to
// drop the same tasks from its ledger and stop their attempts (running ones
// too with cancelRunning). Results that come later for a flushed task are
// refused upstream. Without a live cluster the upstream flush is all there
// is to do.
func FlushCampaign(ctx context.Context, cfg CampaignConfig, cancelRunning bool) (CampaignFlush, error) {
	cfg.defaults()
	var out CampaignFlush
	q, err := cfg.OpenQueue()
	if err != nil {
		return out, err
	}
	defer q.Close()
	if out.Upstream, err = q.Flush(ctx); err != nil {
		return out, fmt.Errorf("flush upstream %s: %w", cfg.Queue, err)
	}
	cf, why, err := flushCluster(ctx, cfg, cancelRunning)
	out.Cluster, out.NoCluster = cf, why
	return out, err
}

// flushCluster asks the leader to flush its ledger. Leadership may move
// meanwhile: a node that no longer leads says so, and the leader record is
// read again, for up to ten seconds.
func flushCluster(ctx context.Context, cfg CampaignConfig, cancelRunning bool) (*ClusterFlush, string, error) {
	if cfg.StateDir == "" {
		return nil, "no live cluster known: give --state DIR to flush the cluster's ledger too", nil
	}
	rec, err := readLeaderRecord(cfg.StateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "no live cluster: no pilot leads this campaign (no leader record)", nil
	}
	if err != nil {
		return nil, "", err
	}
	keyFile := filepath.Join(cfg.StateDir, "campaign.key")
	key, err := authconn.LoadKey(keyFile)
	if err != nil {
		return nil, "", fmt.Errorf("the campaign key authorises a flush of the live cluster: %w", err)
	}
	body, _ := json.Marshal(FlushRequest{CancelRunning: cancelRunning})
	c := &http.Client{Timeout: 30 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+rec.HTTP+"/flush", bytes.NewReader(body))
		if err != nil {
			return nil, "", err
		}
		req.Header.Set("Authorization", "Bearer "+AdminToken(key))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Sprintf("no live cluster: the last leader, %s, does not answer at %s (%v)", rec.Node, rec.HTTP, err), nil
		}
		var cf ClusterFlush
		var he httpError
		if resp.StatusCode == http.StatusOK {
			err = json.NewDecoder(resp.Body).Decode(&cf)
		} else {
			_ = json.NewDecoder(resp.Body).Decode(&he)
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK && err == nil:
			return &cf, "", nil
		case resp.StatusCode == http.StatusOK:
			return nil, "", fmt.Errorf("flush at %s: unreadable answer: %w", rec.HTTP, err)
		case he.Code != codeNotLeader || time.Now().After(deadline):
			return nil, "", fmt.Errorf("flush at leader %s (%s): %s: %s", rec.Node, rec.HTTP, resp.Status, he.Error)
		}
		select {
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if rec, err = readLeaderRecord(cfg.StateDir); err != nil {
			return nil, "", err
		}
	}
}

// StopSlurmPilots cancels the pilots whose ids are Slurm job ids, with one
// scancel of at most half a minute, and returns the ids it cancelled.
func StopSlurmPilots(ctx context.Context, pilots []PilotStatus) ([]string, error) {
	var ids []string
	for _, p := range pilots {
		if p.ID != "" && strings.Trim(p.ID, "0123456789_") == "" {
			ids = append(ids, p.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := (&batch.Slurm{}).Cancel(ctx, ids...); err != nil {
		return nil, fmt.Errorf("scancel %s: %w", strings.Join(ids, " "), err)
	}
	return ids, nil
}
