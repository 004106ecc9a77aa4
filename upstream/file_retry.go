package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pilot-hpc/pilot/task"
)

// Files of a retry in the campaign's state directory.
const (
	retryDir       = "retried"     // one JSONL file of failed results per Retry
	resultsGenFile = "results.gen" // bumped by every Retry: rebuild what results.jsonl says
)

// Retry puts failed tasks back to pending, so they run again with fresh
// attempts (ids empty: every failed task). It returns how many it put back.
//
// The design keeps results.jsonl at exactly one line per final task and
// every results cursor valid: the failed result lines are first copied to
// a new file under retried/ (written whole, fsynced), the state is written
// without any lease of a finished task, then the lines are overwritten in
// place with spaces of the same length, so no byte offset moves and
// readers skip them as blank; results.gen is bumped (before the blanking
// and after it), which makes every process that reads the campaign rebuild
// what it knows of the results, and the campaign is handed back to the
// writer it displaced (as Flush does), which rereads the state and leases
// the tasks again. A task whose line a Flush archived, and a malformed
// line's result, are not retried. A crash part way leaves some tasks
// retried and some not, and the campaign with the crashed process: the
// writer claims it again and sees what was retried; run Retry again for
// the rest (it also bumps results.gen however little it finds).
func (q *FileQueue) Retry(ctx context.Context, ids []string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.open(); err != nil {
		return 0, err
	}
	var prev lockRecord
	if q.epoch == 0 {
		var err error
		if prev, err = readLock(q.dir); err != nil {
			return 0, err
		}
	}
	if err := q.writable(); err != nil {
		return 0, err
	}
	hits, archive, err := q.failedLines(ids)
	if err != nil {
		return 0, err
	}
	if len(hits) > 0 {
		name := fmt.Sprintf("retry-%s-e%d.jsonl", q.now().UTC().Format("20060102T150405.000000000Z"), q.epoch)
		dir := filepath.Join(q.dir, retryDir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return 0, fmt.Errorf("retry archive: %w", err)
		}
		if err := writeAtomic(dir, name, archive); err != nil {
			return 0, err
		}
		if err := q.step("retry:archive-written"); err != nil {
			return 0, q.failed(err)
		}
		// The state on disk may keep leases of finished tasks (reading it
		// drops them while the task has a result); once the result is
		// gone they would come back, so write the state without them.
		if err := q.save(); err != nil {
			return 0, q.failed(err)
		}
		// Bump the generation before the blanking as well as after it: a
		// writer fenced by this retry has read nothing since it was fenced,
		// so if this process dies part way, the writer that claims the
		// campaign again sees a new generation and rereads the results.
		if err := bumpResultsGen(q.dir); err != nil {
			return 0, q.failed(err)
		}
		if err := blankLines(q.res.path, hits); err != nil {
			return 0, q.failed(err)
		}
		if err := q.step("retry:results-blanked"); err != nil {
			return 0, q.failed(err)
		}
		q.log.Info("retried failed tasks", "tasks", len(hits), "archive", filepath.Join(dir, name))
	}
	if err := bumpResultsGen(q.dir); err != nil {
		return 0, q.failed(err)
	}
	if err := q.reload(); err != nil {
		return 0, err
	}
	if prev.Owner != "" && prev.Owner != q.owner {
		if _, err := claimEpoch(q.dir, prev.Owner, q.now(), true); err != nil {
			return len(hits), fmt.Errorf("retried, but could not hand the campaign back to %s: %w", prev.Owner, err)
		}
		q.epoch = 0
	}
	return len(hits), nil
}

// resultLine is where one result line lies in results.jsonl.
type resultLine struct {
	off int64
	n   int
}

// failedLines finds the result lines of the failed tasks to retry and
// returns them with their bytes, one per line, for the archive.
func (q *FileQueue) failedLines(ids []string) ([]resultLine, []byte, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	f, err := os.Open(q.res.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("results %s: %w", q.res.path, err)
	}
	defer f.Close()
	var hits []resultLine
	var archive bytes.Buffer
	_, _, err = scanLines(f, 0, 0, q.res.end, maxResultLine, func(l rawLine) bool {
		var head struct{ ID, State string }
		if blank(l.Data) || json.Unmarshal(l.Data, &head) != nil || head.State != task.StateFailed {
			return true
		}
		if len(want) > 0 && !want[head.ID] {
			return true
		}
		p, known := q.idx.byID[head.ID]
		if !known || q.idx.lines[p].bad != "" || q.idx.lines[p].off < q.st.FlushedBelow {
			return true
		}
		hits = append(hits, resultLine{off: l.Off, n: l.N})
		archive.Write(l.Data)
		archive.WriteByte('\n')
		return true
	})
	if err != nil {
		return nil, nil, fmt.Errorf("results %s: read: %w", q.res.path, err)
	}
	return hits, archive.Bytes(), nil
}

// blankLines overwrites lines of path with spaces, keeping their newlines,
// and fsyncs the file.
func blankLines(path string, lines []resultLine) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("results %s: %w", path, err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteAt(bytes.Repeat([]byte{' '}, l.n), l.off); err != nil {
			return fmt.Errorf("results %s: blank a retried result at byte %d: %w", path, l.off, err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("results %s: %w", path, err)
	}
	return nil
}

// blank reports whether a line is empty or only spaces (a retried result).
func blank(b []byte) bool { return b != nil && len(bytes.TrimSpace(b)) == 0 }

// bumpResultsGen moves results.gen on by one.
func bumpResultsGen(dir string) error {
	gen, err := readResultsGen(dir)
	if err != nil {
		return err
	}
	return writeAtomic(dir, resultsGenFile, []byte(strconv.FormatUint(gen+1, 10)+"\n"))
}

func readResultsGen(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, resultsGenFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("results generation: %w", err)
	}
	gen, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("results generation %s: %w (it holds one number; delete it and run 'pilot retry' again)", filepath.Join(dir, resultsGenFile), err)
	}
	return gen, nil
}

// adoptGen notices a Retry by another process: when results.gen changed,
// everything read from results.jsonl is read again, blanked lines skipped.
func (r *resultsLog) adoptGen() error {
	gen, err := readResultsGen(filepath.Dir(r.path))
	if err != nil {
		return err
	}
	if gen != r.gen {
		if r.end > 0 {
			r.log.Info("results were retried: rereading them", "file", r.path, "generation", gen)
		}
		r.state = map[string]resultRec{}
		r.end, r.endNo, r.gen = 0, 0, gen
	}
	return nil
}
