package pilot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// RefusedFile, in the campaign's state directory, records every result
// upstream refused (a late result of a flushed task, or of a task upstream
// does not know): one JSON object per line, appended by the leader.
const RefusedFile = "refused.jsonl"

// RefusedRecord is one line of RefusedFile.
type RefusedRecord struct {
	At      time.Time   `json:"at"`
	Cluster string      `json:"cluster"`
	Reason  string      `json:"reason"`
	Result  task.Result `json:"result"`
}

// recordRefused appends the refused results to RefusedFile and logs them.
func (o *observer) recordRefused(cluster string, results []task.Result, refused []string) {
	ids := make(map[string]bool, len(refused))
	for _, id := range refused {
		ids[id] = true
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	now := time.Now().UTC()
	for _, r := range results {
		if !ids[r.ID] {
			continue
		}
		_ = enc.Encode(RefusedRecord{At: now, Cluster: cluster, Reason: "refused upstream: the task was flushed or is unknown", Result: r})
		o.log.Info("result refused upstream: the task was flushed or is unknown", "task", r.ID, "state", r.State)
	}
	path := filepath.Join(o.a.cfg.StateDir, RefusedFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err == nil {
		_, err = f.Write(buf.Bytes())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		o.log.Warn("cannot record refused results", "file", path, "err", err)
	}
}

// countRefused counts the records of RefusedFile in a state directory.
func countRefused(stateDir string) (int, error) {
	f, err := os.Open(filepath.Join(stateDir, RefusedFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		n++
	}
	return n, sc.Err()
}
