package pilot

import (
	"encoding/json"
	"log/slog"
	"os"
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

// attemptLog appends attempt records to a JSONL file on node-local disk.
type attemptLog struct {
	mu  sync.Mutex
	f   *os.File
	log *slog.Logger
}

func openAttemptLog(path string, log *slog.Logger) (*attemptLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &attemptLog{f: f, log: log}, nil
}

func (l *attemptLog) write(rec attemptRecord) {
	if l == nil {
		return
	}
	b, _ := json.Marshal(rec)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		l.log.Warn("attempt log", "err", err)
	}
}

func (l *attemptLog) Close() error {
	if l == nil {
		return nil
	}
	return l.f.Close()
}
