package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"runtime"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
	"github.com/pilot-hpc/pilot/upstream/server/wire"
)

// submit takes a JSONL body (or a msgpack array of specs from a program):
// every task is validated strictly; the valid ones are stored in one
// transaction; invalid ones are reported by line and nothing of them is
// stored.
func (s *Server) submit(w http.ResponseWriter, r *http.Request) error {
	select {
	case s.submits <- struct{}{}:
		defer func() { <-s.submits }()
	case <-r.Context().Done():
		return fmt.Errorf("%w: the client went away while waiting for its turn", upstream.ErrUnavailable)
	}
	body, err := readBody(r, s.maxBody)
	if err != nil {
		return err
	}
	var parsed []parsedLine
	if mediaType(r) == wire.ContentTypeMsgpack {
		if parsed, err = decodeMsgpack(body); err != nil {
			return err
		}
	} else {
		parsed = parseLines(splitLines(body))
	}
	var out wire.SubmitResponse
	items := make([]item, 0, len(parsed))
	lines := make([]int, 0, len(parsed)) // item -> line
	for _, p := range parsed {
		if p.err != nil {
			if p.id == "" && p.line != nil {
				p.id = peekID(p.line)
			}
			out.Rejected = append(out.Rejected, wire.Rejection{Line: p.n, ID: p.id, Reason: p.err.Error()})
			continue
		}
		items = append(items, item{spec: p.spec, line: p.line})
		lines = append(lines, p.n)
	}
	accepted, conflicts, err := s.store.store(r.Context(), items)
	if err != nil {
		return err
	}
	out.Accepted = accepted
	for _, c := range conflicts {
		out.Rejected = append(out.Rejected, wire.Rejection{Line: lines[c.Index], ID: c.ID, Reason: c.Reason})
	}
	s.log.Debug("submit", "accepted", accepted, "rejected", len(out.Rejected))
	writeJSON(w, http.StatusOK, out)
	return nil
}

// readBody reads the whole body, sized from Content-Length when given.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	n := r.ContentLength
	if n <= 0 || n > limit {
		n = 64 << 10
	}
	buf := bytes.NewBuffer(make([]byte, 0, n+1))
	_, err := buf.ReadFrom(r.Body)
	return buf.Bytes(), err
}

// parsedLine is one non-blank line of a submit body and what it parsed to.
type parsedLine struct {
	n    int // 1-based line number
	line []byte
	spec task.Spec
	err  error
	id   string // of a refused element, when it can be told
}

func splitLines(body []byte) []parsedLine {
	var out []parsedLine
	for n := 1; len(body) > 0; n++ {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			out = append(out, parsedLine{n: n, line: line})
		}
	}
	return out
}

// parseLines parses the lines on every core: strict JSON decoding of
// 10 kB lines is what a large submission spends its CPU on.
func parseLines(ls []parsedLine) []parsedLine {
	parallel(len(ls), func(i int) { ls[i].spec, ls[i].err = task.Parse(ls[i].line) })
	return ls
}

// decodeMsgpack reads a msgpack array of specs strictly (unknown fields
// refuse the whole request: only a program sends this form), then validates
// each and encodes the JSON line that leases hand out.
func decodeMsgpack(body []byte) ([]parsedLine, error) {
	dec := msgpack.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields(true)
	n, err := dec.DecodeArrayLen()
	if err != nil || n < 0 || n > len(body) {
		return nil, refuse(http.StatusBadRequest, wire.CodeBadRequest, "msgpack submit body: want an array of task specs (%v)", err)
	}
	ls := make([]parsedLine, n)
	for i := range ls {
		ls[i].n = i + 1
		if err := dec.Decode(&ls[i].spec); err != nil {
			return nil, refuse(http.StatusBadRequest, wire.CodeBadRequest, "msgpack submit body: element %d: %v", i+1, err)
		}
	}
	if _, err := dec.PeekCode(); err == nil {
		return nil, refuse(http.StatusBadRequest, wire.CodeBadRequest, "msgpack submit body: data after the array of %d specs", n)
	}
	parallel(n, func(i int) {
		p := &ls[i]
		if p.err = p.spec.Validate(); p.err != nil {
			if len(p.spec.ID) <= task.MaxIDLength {
				p.id = p.spec.ID
			}
			return
		}
		p.spec.ApplyDefaults()
		p.line, p.err = json.Marshal(&p.spec)
	})
	return ls, nil
}

// parallel runs fn(0..n-1) on every core.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n/64+1)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

func mediaType(r *http.Request) string {
	t, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return t
}

// peekID reads the id of a line that failed validation, if it has one, so
// the report can name it.
func peekID(line []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(line, &v) != nil || len(v.ID) > task.MaxIDLength {
		return ""
	}
	return v.ID
}
