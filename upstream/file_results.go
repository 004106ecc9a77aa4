package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/pilot-hpc/pilot/task"
)

// maxResultLine bounds one line of results.jsonl: an inline value and an
// error text with room to spare.
const maxResultLine = 4 * task.MaxValueBytes

// resultsLog is results.jsonl, one task.Result per line and exactly one line
// per final task, and what the queue keeps of it in memory: the state of
// each id that has a result.
type resultsLog struct {
	path  string
	log   *slog.Logger
	state map[string]string // id → task.StateDone or task.StateFailed
	end   int64             // offset after the last complete line read
	endNo int
	gen   uint64 // of results.gen when read: a Retry bumps it
}

func newResultsLog(path string, log *slog.Logger) *resultsLog {
	return &resultsLog{path: path, log: log, state: map[string]string{}}
}

// refresh reads the lines appended since the last call, or all of them
// again after a Retry.
func (r *resultsLog) refresh() error {
	if err := r.adoptGen(); err != nil {
		return err
	}
	f, err := os.Open(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("results %s: %w", r.path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("results %s: %w", r.path, err)
	}
	if st.Size() < r.end {
		return fmt.Errorf("results %s shrank from %d to %d bytes; it is append-only, so restore it", r.path, r.end, st.Size())
	}
	r.end, r.endNo, err = scanLines(f, r.end, r.endNo, st.Size(), maxResultLine, func(l rawLine) bool {
		var head struct{ ID, State string }
		if blank(l.Data) {
			return true // a retried result
		}
		if l.Data == nil || json.Unmarshal(l.Data, &head) != nil || head.ID == "" {
			r.log.Warn("results line unreadable, skipped", "file", r.path, "line", l.No)
			return true
		}
		if _, seen := r.state[head.ID]; !seen {
			r.state[head.ID] = head.State
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("results %s: read: %w", r.path, err)
	}
	return nil
}

// repair cuts off a last line without its newline: an append that a crash
// interrupted, never acknowledged. Only the writer that holds the epoch
// calls it.
func (r *resultsLog) repair() error {
	st, err := os.Stat(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("results %s: %w", r.path, err)
	}
	if st.Size() == r.end {
		return nil
	}
	r.log.Warn("cutting off an interrupted results line", "file", r.path, "offset", r.end, "bytes", st.Size()-r.end)
	if err := os.Truncate(r.path, r.end); err != nil {
		return fmt.Errorf("results %s: cut off an interrupted line: %w", r.path, err)
	}
	return nil
}

// append writes results with one write and fsyncs them, then reads them
// back into memory.
func (r *resultsLog) append(rs []task.Result) error {
	if len(rs) == 0 {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := range rs {
		if err := enc.Encode(&rs[i]); err != nil {
			return fmt.Errorf("encode result of %q: %w", rs[i].ID, err)
		}
	}
	if _, err := appendSync(r.path, buf.Bytes()); err != nil {
		return err
	}
	return r.refresh()
}

// read returns up to max results from offset from, and the offset after
// the last one returned.
func (r *resultsLog) read(from Cursor, max int) ([]task.Result, Cursor, error) {
	if from < 0 {
		return nil, from, fmt.Errorf("results cursor %d is negative; start from 0", from)
	}
	f, err := os.Open(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, from, nil
	}
	if err != nil {
		return nil, from, fmt.Errorf("results %s: %w", r.path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, from, fmt.Errorf("results %s: %w", r.path, err)
	}
	if int64(from) > st.Size() {
		return nil, from, fmt.Errorf("results cursor %d is past the end of %s (%d bytes); start from 0", from, r.path, st.Size())
	}
	var out []task.Result
	end, _, err := scanLines(f, int64(from), 0, st.Size(), maxResultLine, func(l rawLine) bool {
		var res task.Result
		if blank(l.Data) {
			return max <= 0 || len(out) < max // a retried result
		}
		if l.Data == nil || json.Unmarshal(l.Data, &res) != nil {
			r.log.Warn("results line unreadable, skipped", "file", r.path, "offset", l.Off)
		} else {
			out = append(out, res)
		}
		return max <= 0 || len(out) < max
	})
	if err != nil {
		return nil, from, fmt.Errorf("results %s: read: %w", r.path, err)
	}
	return out, Cursor(end), nil
}
