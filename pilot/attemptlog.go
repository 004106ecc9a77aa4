package pilot

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pilot-hpc/pilot/coordinator"
)

// attemptRecord is one line of a node's attempt log: what ran where, on
// which cores, and how it ended. The fault-injection checker reads these
// logs to count executions and to prove no two tasks shared a core.
type attemptRecord struct {
	Task    string    `json:"task"`
	Attempt int       `json:"attempt"`
	Node    string    `json:"node"`
	Pilot   string    `json:"pilot"`
	Cores   []int     `json:"cores"`
	CPUs    []int     `json:"cpus,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Cache   string    `json:"cache,omitempty"`
	Outcome string    `json:"outcome"`
}

// outcomeOf names how a report ended an attempt, for the attempt log.
func outcomeOf(r coordinator.Report) string {
	switch r.Kind {
	case coordinator.ReportCompleted:
		if r.Result.ExitCode == 0 {
			return "done"
		}
		return "exit"
	case coordinator.ReportFailed:
		return "failed-" + string(r.Class)
	}
	return "unknown"
}

// startRecord is one line of a node's start log: an attempt's process
// started. An attempt killed with its node has a start line and no
// attempt record, so the checker counts executions from both.
type startRecord struct {
	Task    string    `json:"task"`
	Attempt int       `json:"attempt"`
	Node    string    `json:"node"`
	Start   time.Time `json:"start"`
}

// attemptLog appends attempt records (attempts.jsonl) and start records
// (starts.jsonl) to JSONL files in a directory on node-local disk.
type attemptLog struct {
	mu     sync.Mutex
	f      *os.File
	starts *os.File
	log    *slog.Logger
}

func openAttemptLog(dir string, log *slog.Logger) (*attemptLog, error) {
	f, err := os.OpenFile(filepath.Join(dir, "attempts.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	starts, err := os.OpenFile(filepath.Join(dir, "starts.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &attemptLog{f: f, starts: starts, log: log}, nil
}

func (l *attemptLog) write(rec attemptRecord) {
	if l == nil {
		return
	}
	l.append(l.f, rec)
}

func (l *attemptLog) started(rec startRecord) {
	if l == nil {
		return
	}
	l.append(l.starts, rec)
}

func (l *attemptLog) append(f *os.File, rec any) {
	b, _ := json.Marshal(rec)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := f.Write(append(b, '\n')); err != nil {
		l.log.Warn("attempt log", "file", f.Name(), "err", err)
	}
}

func (l *attemptLog) Close() error {
	if l == nil {
		return nil
	}
	return errors.Join(l.f.Close(), l.starts.Close())
}
