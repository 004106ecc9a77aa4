package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// File names inside a campaign's state directory.
const (
	stateFile   = "state.json"    // cursor, leases, flush mark: rewritten atomically
	resultsFile = "results.jsonl" // one task.Result per final task, appended
	lockFile    = "lock.json"     // the epoch that may write, renamed into place
	claimsDir   = "claims"        // one file per epoch ever claimed (O_EXCL)
	archiveDir  = "flushed"       // one JSONL file of tasks per Flush
)

// fileState is what state.json holds. Everything else the queue knows is
// derived from it, the queue file and results.jsonl.
type fileState struct {
	// Epoch of the writer that wrote this state.
	Epoch uint64 `json:"epoch"`
	// Cursor is the offset in the queue file up to which lines have been
	// read; CursorLine is the number of the line that ends there and
	// CursorCRC its checksum, so a rewritten file is noticed.
	Cursor     int64  `json:"cursor"`
	CursorLine int    `json:"cursor_line"`
	CursorCRC  uint32 `json:"cursor_crc"`
	// FlushedBelow: every line before this offset without a result was
	// flushed (archived and dropped).
	FlushedBelow int64 `json:"flushed_below"`
	// Leases by task id.
	Leases map[string]leaseRec `json:"leases"`
	// Duplicates counts results that came after a task's first one.
	Duplicates int `json:"duplicates"`
	// Seq numbers leases.
	Seq uint64 `json:"seq"`
	// Archives lists the files that Flush wrote, oldest first.
	Archives []string `json:"archives,omitempty"`
}

// leaseRec is one task leased to one cluster.
type leaseRec struct {
	Cluster string    `json:"cluster"`
	Lease   string    `json:"lease"`
	Expires time.Time `json:"expires"`
}

func loadState(dir string) (fileState, error) {
	var s fileState
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		s.Leases = map[string]leaseRec{}
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read campaign state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("campaign state %s is not valid JSON (%v); it is only ever replaced whole, so the file was edited by hand: restore it", filepath.Join(dir, stateFile), err)
	}
	if s.Leases == nil {
		s.Leases = map[string]leaseRec{}
	}
	return s, nil
}

func saveState(dir string, s *fileState) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return writeAtomic(dir, stateFile, append(b, '\n'))
}
