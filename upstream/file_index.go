package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/pilot-hpc/pilot/task"
)

// ErrRewritten means the queue file was truncated or rewritten below what
// the campaign has already read. Its lines are never silently re-read or
// skipped; the error names the file and the first line that changed.
var ErrRewritten = errors.New("queue file was truncated or rewritten under the campaign")

// qline is what the index keeps of one queue line: where it is and what it
// is, not its content (promise 6: 100k lines of 10 kB do not sit in RAM).
type qline struct {
	off   int64
	n     int32 // bytes without the newline
	no    int32 // 1-based line number
	crc   uint32
	cores int32
	// id is the task's id, or "line:N" for a line that is not a task.
	id string
	// bad says why the line is not a task; "" for a task.
	bad string
}

// badLineID names the failed result of a line that is not a task. The colon
// keeps it apart from every task id.
func badLineID(no int) string { return fmt.Sprintf("line:%d", no) }

// index lists the complete lines of the queue file in file order, and finds
// a line by its id.
type index struct {
	lines []qline
	byID  map[string]int // id → position in lines
	end   int64          // offset after the last complete line scanned
	endNo int            // lines before end, blank ones included

	log        *slog.Logger
	cache      string // path of the index cache; "" for none
	cacheLines int    // lines of the index beyond the cache that make it worth rewriting
	cached     int    // lines in the cache as last read or written
	cachedEnd  int64  // and the bytes of the queue they cover
}

// newIndex makes an empty index that keeps a cache at cache ("" for none).
func newIndex(cache string, log *slog.Logger) *index {
	return &index{byID: map[string]int{}, cache: cache, cacheLines: indexCacheLines, log: log}
}

// refresh verifies the last line already indexed and indexes the complete
// lines appended since. A file shorter than what was indexed, or whose last
// indexed line changed, is reported as ErrRewritten.
func (x *index) refresh(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("queue %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("queue %s: %w", path, err)
	}
	if st.Size() < x.end {
		return fmt.Errorf("%w: %s is %d bytes, but %d bytes (%d lines) were already read; restore the file, or start a new campaign with another state directory", ErrRewritten, path, st.Size(), x.end, x.endNo)
	}
	if n := len(x.lines); n > 0 {
		if err := x.verify(f, path, n-1); err != nil {
			return err
		}
	}
	// Parsing dominates indexing (a queue of 100k lines of 10 kB is 1 GB of
	// JSON): gather runs of lines, parse each run on every CPU, then add
	// them in file order (the first line of an id wins).
	var run []rawLine
	runBytes := 0
	addRun := func() {
		inputs := make([]inputLine, len(run))
		for i, l := range run {
			inputs[i] = inputLine{no: l.No, data: bytes.TrimSpace(l.Data)}
		}
		parsed := parseLines(inputs)
		for i := range run {
			x.add(run[i], parsed[i])
		}
		run, runBytes = run[:0], 0
	}
	x.end, x.endNo, err = scanLines(f, x.end, x.endNo, st.Size(), task.MaxLineBytes, func(l rawLine) bool {
		l.Data = bytes.Clone(l.Data) // the scanner reuses its buffer
		run = append(run, l)
		if runBytes += l.N; len(run) >= 4096 || runBytes >= 16<<20 {
			addRun()
		}
		return true
	})
	addRun()
	if err != nil {
		return fmt.Errorf("queue %s: read: %w", path, err)
	}
	x.maybeCache()
	return nil
}

// maybeCache writes the index cache when the index has grown enough past
// it. Failing to is only worth a warning: the cache saves time, no more.
func (x *index) maybeCache() {
	ahead := len(x.lines) - x.cached
	if x.cache != "" && (ahead >= max(x.cacheLines, x.cached/4) || x.end-x.cachedEnd >= indexCacheBytes) {
		if err := x.saveCache(x.cache); err != nil {
			x.log.Warn("index cache not written", "err", err)
		}
	}
}

// load fills an empty index from its cache, if there is a good one, and
// then brings it up to date with refresh. A cache that does not match the
// queue file is dropped and the file indexed from its start.
func (x *index) load(path string) error {
	if x.cache != "" {
		if ok, err := x.loadCache(x.cache); err != nil {
			x.log.Warn("index cache ignored", "err", err)
		} else if ok {
			err := x.refresh(path)
			if err == nil || !errors.Is(err, ErrRewritten) {
				return err
			}
			x.log.Warn("index cache does not match the queue file; indexing it anew", "err", err)
			*x = *newIndex(x.cache, x.log)
		}
	}
	return x.refresh(path)
}

// add classifies one line: a task (first line of its id), or a line that
// is not one (malformed, too long, a repeated id). Blank lines are skipped.
// p is what task.Parse made of the line.
func (x *index) add(l rawLine, p parsedLine) {
	q := qline{off: l.Off, n: int32(l.N), no: int32(l.No), crc: l.CRC}
	switch {
	case l.Data == nil:
		q.bad = fmt.Sprintf("the line is %d bytes, the limit is %d", l.N, task.MaxLineBytes)
	case len(bytes.TrimSpace(l.Data)) == 0:
		return
	case p.err != nil:
		q.bad = strings.TrimPrefix(p.err.Error(), task.ErrInvalid.Error()+": ")
	default:
		first, dup := x.byID[p.spec.ID]
		if !dup {
			x.addTask(l, p.spec)
			return
		}
		q.bad = fmt.Sprintf("duplicate id %q: line %d already has it and the first one wins; give this task a new id", p.spec.ID, x.lines[first].no)
	}
	q.id = badLineID(l.No)
	x.byID[q.id] = len(x.lines)
	x.lines = append(x.lines, q)
}

// addTask indexes line l, which holds the task s (parsed, with defaults,
// its id new to the index).
func (x *index) addTask(l rawLine, s task.Spec) {
	x.byID[s.ID] = len(x.lines)
	x.lines = append(x.lines, qline{off: l.Off, n: int32(l.N), no: int32(l.No), crc: l.CRC, cores: int32(s.Cores), id: s.ID})
}

// verify checks that line p still holds what was indexed.
func (x *index) verify(f io.ReaderAt, path string, p int) error {
	_, err := x.read(f, path, p)
	return err
}

// read returns the bytes of line p after checking them against the index.
func (x *index) read(f io.ReaderAt, path string, p int) ([]byte, error) {
	l := x.lines[p]
	buf := make([]byte, int(l.n)+1)
	if _, err := f.ReadAt(buf, l.off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s:%d: the line at byte %d is gone; restore the file", ErrRewritten, path, l.no, l.off)
		}
		return nil, fmt.Errorf("queue %s: read line %d: %w", path, l.no, err)
	}
	if buf[l.n] != '\n' || crc32.ChecksumIEEE(buf[:l.n]) != l.crc {
		return nil, fmt.Errorf("%w: %s:%d changed after it was read; restore the file, and append new tasks instead of editing", ErrRewritten, path, l.no)
	}
	return buf[:l.n], nil
}

// spec reads and parses the task at line p.
func (x *index) spec(f io.ReaderAt, path string, p int) (task.Spec, error) {
	b, err := x.read(f, path, p)
	if err != nil {
		return task.Spec{}, err
	}
	// The bytes passed their checksum, so they are the line that task.Parse
	// validated (strictly) when it was indexed: a plain decode gives the
	// same task, at half the cost of validating 10 kB lines again.
	var s task.Spec
	err = json.Unmarshal(bytes.TrimSpace(b), &s)
	s.ApplyDefaults()
	if err != nil || s.ID != x.lines[p].id {
		return task.Spec{}, fmt.Errorf("%w: %s:%d no longer parses as task %q", ErrRewritten, path, x.lines[p].no, x.lines[p].id)
	}
	return s, nil
}

// find returns the position of the line that ends at off, for the read
// cursor; off 0 is position 0.
func (x *index) find(off int64) (int, bool) {
	if off == 0 {
		return 0, true
	}
	lo, hi := 0, len(x.lines)
	for lo < hi {
		m := (lo + hi) / 2
		if x.lines[m].off+int64(x.lines[m].n)+1 < off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(x.lines) && x.lines[lo].off+int64(x.lines[lo].n)+1 == off {
		return lo + 1, true
	}
	return 0, false
}
