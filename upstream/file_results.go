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
// each id that has a result, and where its line is. Should a deposed writer
// slip a second line for an id past the fence, the first line is the
// result and the later one is never read as one.
type resultsLog struct {
	path  string
	log   *slog.Logger
	state map[string]resultRec
	end   int64 // offset after the last complete line read
	endNo int
	gen   uint64 // of results.gen when read: a Retry bumps it
}

// resultRec is what the queue keeps of one result.
type resultRec struct {
	state string // task.StateDone or task.StateFailed
	off   int64  // where its line starts in results.jsonl
}

func newResultsLog(path string, log *slog.Logger) *resultsLog {
	return &resultsLog{path: path, log: log, state: map[string]resultRec{}}
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
		if blank(l.Data) {
			return true // a retried result
		}
		id, state, ok := resultHead(l.Data)
		if !ok {
			r.log.Warn("results line unreadable, skipped", "file", r.path, "line", l.No)
			return true
		}
		if first, seen := r.state[id]; !seen {
			r.state[id] = resultRec{state: state, off: l.Off}
		} else {
			r.log.Warn("second result line for a task ignored", "file", r.path, "line", l.No, "task", id, "first_offset", first.off)
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("results %s: read: %w", r.path, err)
	}
	return nil
}

// resultHead reads the id and state of a result line. Lines this queue
// wrote start {"id":"ID","state":"STATE" (task.Result's field order), which
// it reads without parsing the rest (a value may be 64 kB: reopening a
// campaign of 100k results must not parse them all); any other line is
// parsed as JSON.
func resultHead(b []byte) (id, state string, ok bool) {
	const p1, p2 = `{"id":"`, `","state":"`
	if rest, found := bytes.CutPrefix(b, []byte(p1)); found {
		if i := plainLen(rest); i > 0 && i < len(rest) && rest[i] == '"' {
			id = string(rest[:i])
			if rest, found = bytes.CutPrefix(rest[i:], []byte(p2)); found {
				if j := plainLen(rest); j < len(rest) && rest[j] == '"' {
					return id, string(rest[:j]), true
				}
			}
		}
	}
	var head struct{ ID, State string }
	if b == nil || json.Unmarshal(b, &head) != nil || head.ID == "" {
		return "", "", false
	}
	return head.ID, head.State, true
}

// plainLen is the length of the run of printable ASCII at the start of b,
// quote and backslash left out: JSON string content that means itself.
func plainLen(b []byte) int {
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return i
		}
	}
	return len(b)
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
// the last one returned. It reads only as far as the last refresh.
func (r *resultsLog) read(from Cursor, max int) ([]task.Result, Cursor, error) {
	if from < 0 || int64(from) > r.end {
		return nil, from, fmt.Errorf("results cursor %d is outside %s (%d bytes); start from 0", from, r.path, r.end)
	}
	f, err := os.Open(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, from, nil
	}
	if err != nil {
		return nil, from, fmt.Errorf("results %s: %w", r.path, err)
	}
	defer f.Close()
	var out []task.Result
	end, _, err := scanLines(f, int64(from), 0, r.end, maxResultLine, func(l rawLine) bool {
		var res task.Result
		if l.Data == nil || json.Unmarshal(l.Data, &res) != nil {
			return true // refresh warned about it
		}
		if first, ok := r.state[res.ID]; ok && first.off == l.Off {
			out = append(out, res)
		}
		return len(out) < max
	})
	if err != nil {
		return nil, from, fmt.Errorf("results %s: read: %w", r.path, err)
	}
	return out, Cursor(end), nil
}
