package pilot

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/internal/jsonappend"
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
	buf    []byte // the last line's array, for the next one
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
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := rec.appendJSON(l.buf[:0])
	if err != nil {
		b, _ = json.Marshal(rec) // it fails too: the line is empty, as it always was
	}
	l.appendLine(l.f, b)
}

func (l *attemptLog) started(rec startRecord) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := rec.appendJSON(l.buf[:0])
	if err != nil {
		b, _ = json.Marshal(rec) // it fails too: the line is empty, as it always was
	}
	l.appendLine(l.starts, b)
}

// appendLine writes b and a newline to f with one write, so that a line
// is whole or missing after a crash, and keeps the array for the next
// line. l.mu is held.
func (l *attemptLog) appendLine(f *os.File, b []byte) {
	l.buf = append(b, '\n')
	if _, err := f.Write(l.buf); err != nil {
		l.log.Warn("attempt log", "file", f.Name(), "err", err)
	}
}

// appendJSON appends the record as json.Marshal encodes it (without its
// reflection: a line per task), or fails where json.Marshal fails (a time
// RFC 3339 cannot say). The checker reads these lines;
// TestAttemptLogJSON and FuzzAttemptLogJSON hold the two equal.
func (r *attemptRecord) appendJSON(b []byte) ([]byte, error) {
	b = appendJSONHead(b, r.Task, r.Attempt, r.Node)
	b = append(b, `,"pilot":`...)
	b = jsonappend.String(b, r.Pilot)
	b = append(b, `,"cores":`...)
	b = jsonappend.Ints(b, r.Cores)
	if len(r.CPUs) > 0 {
		b = append(b, `,"cpus":`...)
		b = jsonappend.Ints(b, r.CPUs)
	}
	var errStart, errEnd error
	b = append(b, `,"start":`...)
	b, errStart = jsonappend.Time(b, r.Start)
	b = append(b, `,"end":`...)
	b, errEnd = jsonappend.Time(b, r.End)
	if r.Cache != "" {
		b = append(b, `,"cache":`...)
		b = jsonappend.String(b, r.Cache)
	}
	b = append(b, `,"outcome":`...)
	b = jsonappend.String(b, r.Outcome)
	return append(b, '}'), errors.Join(errStart, errEnd)
}

// appendJSON appends the record as json.Marshal encodes it, or fails
// where json.Marshal fails (see attemptRecord.appendJSON).
func (r *startRecord) appendJSON(b []byte) ([]byte, error) {
	b = appendJSONHead(b, r.Task, r.Attempt, r.Node)
	b = append(b, `,"start":`...)
	b, err := jsonappend.Time(b, r.Start)
	return append(b, '}'), err
}

// appendJSONHead opens a record with the fields both kinds start with.
func appendJSONHead(b []byte, task string, attempt int, node string) []byte {
	b = append(b, `{"task":`...)
	b = jsonappend.String(b, task)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(attempt), 10)
	b = append(b, `,"node":`...)
	return jsonappend.String(b, node)
}

func (l *attemptLog) Close() error {
	if l == nil {
		return nil
	}
	return errors.Join(l.f.Close(), l.starts.Close())
}
