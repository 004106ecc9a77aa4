package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"

	"github.com/pilot-hpc/pilot/task"
)

// Submit validates specs and appends the valid ones to the queue file with
// one write (O_APPEND), fsynced before it returns: all of them, or on error
// none. A task the campaign already has, identical (after defaults), is
// accepted and changes nothing, so a submission cut short may simply be
// run again; a different task under a used id, or one that repeats an id
// of the batch, is rejected with the line that has it. Unlike the queue
// server, a file queue never reuses the id of a flushed task. Submit needs no claim:
// like a user's own append, it does not touch the state directory. Two
// processes that submit one id at the same moment both append it; the
// later line then becomes a failed result when it is read.
func (q *FileQueue) Submit(ctx context.Context, specs []task.Spec) (SubmitReport, error) {
	var rep SubmitReport
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.open(); err != nil {
		return rep, err
	}
	if err := q.idx.refresh(q.path); err != nil {
		return rep, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	batch := map[string]int{}
	var (
		stored []task.Spec // with defaults, for the index
		ends   []int       // where each one's line ends in buf
	)
	for i := range specs {
		s := specs[i]
		reject := func(format string, a ...any) {
			rep.Rejected = append(rep.Rejected, Rejection{Index: i, ID: s.ID, Reason: fmt.Sprintf(format, a...)})
		}
		if err := s.Validate(); err != nil {
			reject("%v", err)
			continue
		}
		if p, dup := q.idx.byID[s.ID]; dup {
			same, err := q.stored(p, s)
			if err != nil {
				return SubmitReport{}, err
			}
			if same {
				rep.Accepted++
				continue
			}
			if _, done := q.res.state[s.ID]; !done && q.idx.lines[p].off < q.st.FlushedBelow {
				reject("duplicate id %q: its task at line %d of %s was flushed, and a file queue never reuses an id; give the task a new id, or start a new campaign with another state directory", s.ID, q.idx.lines[p].no, q.path)
				continue
			}
			reject("duplicate id %q: line %d of %s has another task under it; ids are unique in a campaign", s.ID, q.idx.lines[p].no, q.path)
			continue
		}
		if first, dup := batch[s.ID]; dup {
			reject("duplicate id %q: task %d of this submission already has it", s.ID, first+1)
			continue
		}
		mark := buf.Len()
		if err := enc.Encode(&s); err != nil {
			reject("cannot encode: %v", err)
			continue
		}
		if n := buf.Len() - mark - 1; n > task.MaxLineBytes {
			buf.Truncate(mark)
			reject("the task is %d bytes as one line, the limit is %d", n, task.MaxLineBytes)
			continue
		}
		batch[s.ID] = i
		rep.Accepted++
		s.ApplyDefaults()
		stored, ends = append(stored, s), append(ends, buf.Len())
	}
	if len(stored) == 0 {
		return rep, nil
	}
	data := buf.Bytes()
	partial, err := q.endsMidLine()
	if err != nil {
		return SubmitReport{}, err
	}
	if partial {
		// Someone's append without a newline (still being written, or cut
		// short): start our lines on a line of their own. That line is
		// then read as it stands, and fails if it is not a whole task.
		q.log.Warn("queue ends in a line without a newline; starting the submitted tasks on a new line")
		data = append([]byte{'\n'}, data...)
	}
	end, err := appendSync(q.path, data)
	if err != nil {
		return SubmitReport{}, err
	}
	if !partial && end-int64(len(data)) == q.idx.end {
		// Nobody appended between the index's end and our lines: index
		// them as written instead of reading them back.
		start := 0
		for k, s := range stored {
			line := data[start : ends[k]-1]
			q.idx.addTask(rawLine{Off: q.idx.end, N: len(line), No: q.idx.endNo + 1, CRC: crc32.ChecksumIEEE(line)}, s)
			q.idx.end += int64(len(line)) + 1
			q.idx.endNo++
			start = ends[k]
		}
		q.idx.maybeCache()
	}
	return rep, nil
}

// stored reports whether line p holds the task s, field for field after
// defaults.
func (q *FileQueue) stored(p int, s task.Spec) (bool, error) {
	f, err := os.Open(q.path)
	if err != nil {
		return false, fmt.Errorf("queue %s: %w", q.path, err)
	}
	defer f.Close()
	have, err := q.idx.spec(f, q.path, p)
	if err != nil {
		return false, err
	}
	s.ApplyDefaults()
	a, _ := json.Marshal(have)
	b, _ := json.Marshal(s)
	return bytes.Equal(a, b), nil
}

// endsMidLine reports whether the queue file's last byte is not a newline.
func (q *FileQueue) endsMidLine() (bool, error) {
	f, err := os.Open(q.path)
	if err != nil {
		return false, fmt.Errorf("queue %s: %w", q.path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return false, err
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], st.Size()-1); err != nil {
		return false, fmt.Errorf("queue %s: %w", q.path, err)
	}
	return last[0] != '\n', nil
}
