package upstream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"

	"github.com/pilot-hpc/pilot/task"
)

// LinesReport is what SubmitLines did with one input of task lines.
type LinesReport struct {
	Lines    int         `json:"lines"` // non-blank lines read
	Accepted int         `json:"accepted"`
	Bytes    int64       `json:"bytes"` // bytes read
	Rejected []LineError `json:"rejected,omitempty"`
}

// LineError is one input line that was not stored, and why.
type LineError struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

// String is the FILE:LINE: reason form a person or an editor can jump to.
func (e LineError) String() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

// SubmitLinesOptions configures SubmitLines. Zero values take the defaults
// named on each field.
type SubmitLinesOptions struct {
	// Name is the input's name in errors. Default "stdin".
	Name string
	// BatchTasks and BatchBytes cap one Submit call: each batch is one
	// atomic append (file) or request (server). Defaults 5000 and 8 MiB.
	BatchTasks, BatchBytes int
	// Progress, when set, is called after each batch with the report so far.
	Progress func(LinesReport)
}

// SubmitLines reads task lines from r (one JSON object per line; blank lines
// are skipped, the last line needs no newline), parses each with task.Parse
// and submits the valid ones to q in batches, so memory stays bounded
// however long the input. Invalid lines, and tasks q refuses (a duplicate
// id), are reported with their line; the valid ones are stored regardless.
// An error (an outage, a full disk) stops it: the batches before it are
// stored, as the report says.
func SubmitLines(ctx context.Context, q Queue, r io.Reader, opts SubmitLinesOptions) (LinesReport, error) {
	if opts.Name == "" {
		opts.Name = "stdin"
	}
	if opts.BatchTasks <= 0 {
		opts.BatchTasks = 5000
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = 8 << 20
	}
	var (
		rep       LinesReport
		raw       []inputLine // read, not parsed yet
		rawBytes  int
		seen      = map[string]int{} // id → line, across batches
		specs     []task.Spec
		specLines []int
	)
	// batch parses the lines read so far (on every CPU: parsing 10 kB
	// tasks costs more than storing them) and submits the valid ones.
	batch := func() error {
		parsed := parseLines(raw)
		specs, specLines = specs[:0], specLines[:0]
		for i, in := range raw {
			switch s, err := parsed[i].spec, parsed[i].err; {
			case err != nil:
				rep.Rejected = append(rep.Rejected, LineError{File: opts.Name, Line: in.no, Reason: err.Error()})
			case seen[s.ID] != 0:
				rep.Rejected = append(rep.Rejected, LineError{File: opts.Name, Line: in.no, ID: s.ID, Reason: fmt.Sprintf("duplicate id %q: line %d of %s has it too; ids are unique in a campaign", s.ID, seen[s.ID], opts.Name)})
			default:
				seen[s.ID] = in.no
				specs, specLines = append(specs, s), append(specLines, in.no)
			}
		}
		raw, rawBytes = raw[:0], 0
		if len(specs) > 0 {
			sr, err := q.Submit(ctx, specs)
			if err != nil {
				return fmt.Errorf("%s: submit the tasks of lines %d-%d: %w", opts.Name, specLines[0], specLines[len(specLines)-1], err)
			}
			rep.Accepted += sr.Accepted
			for _, rj := range sr.Rejected {
				rep.Rejected = append(rep.Rejected, LineError{File: opts.Name, Line: specLines[rj.Index], ID: rj.ID, Reason: rj.Reason})
			}
		}
		if opts.Progress != nil {
			opts.Progress(rep)
		}
		return nil
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for no := 1; ; no++ {
		line, n, err := readLine(br, task.MaxLineBytes)
		rep.Bytes += int64(n)
		if err != nil && !errors.Is(err, io.EOF) {
			return rep, fmt.Errorf("%s:%d: read: %w", opts.Name, no, err)
		}
		if n == 0 && errors.Is(err, io.EOF) {
			break
		}
		if trimmed := bytes.TrimSpace(line); line == nil || len(trimmed) > 0 {
			rep.Lines++
			raw = append(raw, inputLine{no: no, data: trimmed})
			rawBytes += len(trimmed)
		}
		if len(raw) >= opts.BatchTasks || rawBytes >= opts.BatchBytes {
			if err := batch(); err != nil {
				return rep, err
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	var err error
	if len(raw) > 0 {
		err = batch()
	}
	sort.SliceStable(rep.Rejected, func(i, j int) bool { return rep.Rejected[i].Line < rep.Rejected[j].Line })
	return rep, err
}

// inputLine is one non-blank input line; data nil when it was too long.
type inputLine struct {
	no   int
	data []byte
}

type parsedLine struct {
	spec task.Spec
	err  error
}

// parseLines parses lines with task.Parse on every CPU. Data nil means the
// line was too long; an empty line is left alone.
func parseLines(lines []inputLine) []parsedLine {
	out := make([]parsedLine, len(lines))
	workers := min(runtime.GOMAXPROCS(0), 1+len(lines)/64)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(lines); i += workers {
				switch d := lines[i].data; {
				case d == nil:
					out[i].err = fmt.Errorf("the line is longer than the limit of %d bytes", task.MaxLineBytes)
				case len(d) > 0:
					out[i].spec, out[i].err = task.Parse(d)
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// readLine reads one line of br without its newline; the last line of the
// input needs none. A line longer than max comes back nil, after reading
// past it with no more than max bytes held. n counts the bytes consumed.
func readLine(br *bufio.Reader, max int) (line []byte, n int, err error) {
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		n += len(chunk)
		if !tooLong {
			if len(line)+len(chunk) > max+1 {
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			return nil, n, err
		}
		return bytes.TrimSuffix(line, []byte{'\n'}), n, err
	}
}
