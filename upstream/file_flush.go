package upstream

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Flush archives every pending and leased task, and every line not read
// yet, to a new file under flushed/ in the state directory, then drops them
// all with one atomic replacement of the state. Results stay; results that
// arrive later for a flushed task are refused. Called from a process that
// is not the campaign's writer (an admin's 'pilot flush'), it takes the
// campaign for the flush and hands it back to the writer it displaced,
// which adopts the new state on its next call.
func (q *FileQueue) Flush(ctx context.Context) (FlushReport, error) {
	var rep FlushReport
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.open(); err != nil {
		return rep, err
	}
	var prev lockRecord
	if q.epoch == 0 {
		var err error
		if prev, err = readLock(q.dir); err != nil {
			return rep, err
		}
	}
	if err := q.writable(); err != nil {
		return rep, err
	}
	q.expire(q.now())

	var ps []int // lines to archive, in file order
	for p := 0; p < len(q.idx.lines); p++ {
		l := &q.idx.lines[p]
		if _, done := q.res.state[l.id]; done || l.off < q.st.FlushedBelow {
			continue
		}
		_, leased := q.st.Leases[l.id]
		switch {
		case p >= q.cur:
			rep.Pending++
		case leased:
			rep.Leased++
		case l.bad == "":
			rep.Pending++
		default:
			continue // a read line that is not a task already has its result
		}
		ps = append(ps, p)
	}
	name := fmt.Sprintf("flush-%s-e%d.jsonl", q.now().UTC().Format("20060102T150405.000000000Z"), q.epoch)
	rep.Archive = filepath.Join(q.dir, archiveDir, name)
	if err := q.archive(rep.Archive, ps); err != nil {
		return FlushReport{}, q.failed(err)
	}
	if err := q.step("flush:archive-written"); err != nil {
		return FlushReport{}, q.failed(err)
	}
	q.st.FlushedBelow = q.idx.end
	q.st.Leases = map[string]leaseRec{}
	q.st.Archives = append(q.st.Archives, filepath.Join(archiveDir, name))
	q.cur = len(q.idx.lines)
	q.pending = q.pending[:0]
	if err := q.save(); err != nil {
		return FlushReport{}, q.failed(err)
	}
	q.log.Info("flushed", "pending", rep.Pending, "leased", rep.Leased, "archive", rep.Archive)
	if prev.Owner != "" && prev.Owner != q.owner {
		if _, err := claimEpoch(q.dir, prev.Owner, q.now(), true); err != nil {
			return rep, fmt.Errorf("flushed, but could not hand the campaign back to %s: %w", prev.Owner, err)
		}
		q.epoch = 0
	}
	return rep, nil
}

// archive copies the lines at ps, raw, into a new file at path, atomically.
func (q *FileQueue) archive(path string, ps []int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("flush archive: %w", err)
	}
	src, err := os.Open(q.path)
	if err != nil {
		return fmt.Errorf("queue %s: %w", q.path, err)
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".flush-*")
	if err != nil {
		return fmt.Errorf("flush archive: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	for i := 0; i < len(ps); {
		// Copy runs of neighbouring lines in one piece.
		j := i + 1
		for j < len(ps) && ps[j] == ps[j-1]+1 {
			j++
		}
		first, last := q.idx.lines[ps[i]], q.idx.lines[ps[j-1]]
		if _, err := io.Copy(w, io.NewSectionReader(src, first.off, last.off+int64(last.n)+1-first.off)); err != nil {
			tmp.Close()
			return fmt.Errorf("flush archive: copy %s lines %d-%d: %w", q.path, first.no, last.no, err)
		}
		i = j
	}
	err = w.Flush()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("flush archive %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}
