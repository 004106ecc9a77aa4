package task

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on one task line. They keep the ledger small (promise 6) and stop a
// malformed line from costing more than its own failure (promise 8).
const (
	MaxInputBytes  = 64 << 10 // inline input, as the user wrote it
	MaxValueBytes  = 64 << 10 // a result's inline value
	MaxLineBytes   = 1 << 20  // one JSONL line of a queue
	MaxIDLength    = 128
	DefaultCores   = 1
	DefaultAttempt = 3 // max_attempts when a task gives none
)

// Spec is one task as the user submits it: one JSON object per line of a
// queue. Field names are the wire format; do not rename them.
type Spec struct {
	ID          string            `json:"id" msgpack:"id"`
	Cmd         []string          `json:"cmd,omitempty" msgpack:"cmd,omitempty"`
	Fn          string            `json:"fn,omitempty" msgpack:"fn,omitempty"`
	Args        []string          `json:"args,omitempty" msgpack:"args,omitempty"`
	Input       string            `json:"input,omitempty" msgpack:"input,omitempty"`
	Cores       int               `json:"cores,omitempty" msgpack:"cores,omitempty"`
	MemMB       int64             `json:"mem_mb,omitempty" msgpack:"mem_mb,omitempty"`
	EstS        float64           `json:"est_s,omitempty" msgpack:"est_s,omitempty"`
	TimeoutS    float64           `json:"timeout_s,omitempty" msgpack:"timeout_s,omitempty"`
	MaxAttempts int               `json:"max_attempts,omitempty" msgpack:"max_attempts,omitempty"`
	Env         map[string]string `json:"env,omitempty" msgpack:"env,omitempty"`
	CacheKey    string            `json:"cache_key,omitempty" msgpack:"cache_key,omitempty"`
}

// ErrInvalid is wrapped by every validation error, so callers can tell bad
// input (report it, carry on) from an outage (retry).
var ErrInvalid = errors.New("invalid task")

// Parse decodes and validates one JSON line strictly: an unknown field is an
// error, so a typo never runs silently with defaults. Defaults are applied.
func Parse(line []byte) (Spec, error) {
	var s Spec
	if len(line) > MaxLineBytes {
		return s, fmt.Errorf("%w: line is %d bytes, the limit is %d", ErrInvalid, len(line), MaxLineBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("%w: %s", ErrInvalid, jsonReason(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Spec{}, fmt.Errorf("%w: text after the JSON object", ErrInvalid)
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	s.ApplyDefaults()
	return s, nil
}

// ApplyDefaults fills the fields a user may leave out.
func (s *Spec) ApplyDefaults() {
	if s.Cores == 0 {
		s.Cores = DefaultCores
	}
	if s.MaxAttempts == 0 {
		s.MaxAttempts = DefaultAttempt
	}
}

// Validate checks the rules of the task format and names the field at fault.
func (s *Spec) Validate() error {
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("%w: field %q: %s", ErrInvalid, field, fmt.Sprintf(format, a...))
	}
	if err := ValidateID(s.ID); err != nil {
		return err
	}
	switch {
	case len(s.Cmd) == 0 && s.Fn == "":
		return bad("cmd", "a task needs either \"cmd\" (an argv) or \"fn\" (a function the site config resolves)")
	case len(s.Cmd) > 0 && s.Fn != "":
		return bad("fn", "give either \"cmd\" or \"fn\", not both")
	case len(s.Cmd) > 0 && s.Cmd[0] == "":
		return bad("cmd", "the executable (first element) is empty")
	case len(s.Args) > 0 && s.Fn == "":
		return bad("args", "\"args\" goes with \"fn\"; put arguments of \"cmd\" in the argv itself")
	}
	for _, a := range append(append([]string{}, s.Cmd...), s.Args...) {
		if strings.IndexByte(a, 0) >= 0 {
			return bad("cmd", "an argument contains a NUL byte")
		}
	}
	if len(s.Input) > MaxInputBytes {
		return bad("input", "%d bytes, the limit is %d; stage large inputs to a file and pass its path", len(s.Input), MaxInputBytes)
	}
	if s.Cores < 0 {
		return bad("cores", "must be positive, got %d", s.Cores)
	}
	if s.MemMB < 0 {
		return bad("mem_mb", "must not be negative, got %d", s.MemMB)
	}
	if s.EstS < 0 {
		return bad("est_s", "must not be negative, got %g", s.EstS)
	}
	if s.TimeoutS < 0 {
		return bad("timeout_s", "must not be negative, got %g", s.TimeoutS)
	}
	if s.MaxAttempts < 0 {
		return bad("max_attempts", "must be positive, got %d", s.MaxAttempts)
	}
	for k := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return bad("env", "variable name %q is not valid", k)
		}
	}
	return nil
}

// ValidateID checks a task id: [A-Za-z0-9._-]{1,128}, and never "." or "..",
// so an id can name a file or directory without escaping it.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: field \"id\" is required", ErrInvalid)
	}
	if !idPattern(id) {
		return fmt.Errorf("%w: field \"id\": %q must match [A-Za-z0-9._-]{1,%d}", ErrInvalid, truncate(id, 40), MaxIDLength)
	}
	if id == "." || id == ".." {
		return fmt.Errorf("%w: field \"id\": %q is not allowed", ErrInvalid, id)
	}
	return nil
}

// idPattern says whether id matches [A-Za-z0-9._-]{1,MaxIDLength}, by
// hand: every attempt's scratch cache entry checks it (a regexp cost the
// agent ~1% of its time per task).
func idPattern(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func jsonReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("not valid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q: expected %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		return "empty line"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "not valid JSON: the object is cut short"
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + f + " (check its spelling against the task format in the README)"
	}
	return msg
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
