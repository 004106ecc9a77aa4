package rpc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/pilot-hpc/pilot/task"
	"github.com/vmihailenco/msgpack/v5"
)

// MaxFrame bounds one frame (type byte and body). An assignment batch of
// a few hundred tasks with their inline inputs fits; a bigger frame is
// refused before it is read.
const MaxFrame = 16 << 20

// ErrFrame is wrapped by every error about a frame that cannot be read or
// decoded.
var ErrFrame = errors.New("bad frame")

func writeFrame(w *bufio.Writer, t MsgType, v any) error {
	body, err := msgpack.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", t, err)
	}
	if len(body)+1 > MaxFrame {
		return fmt.Errorf("%w: %s is %d bytes, the limit is %d; send fewer tasks per batch", ErrFrame, t, len(body)+1, MaxFrame)
	}
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(body)+1))
	hdr[4] = byte(t)
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Flush()
}

// readFrame reads one frame. An io.EOF before the first byte is returned
// as it is (the peer closed between requests); anything else malformed
// wraps ErrFrame.
func readFrame(r io.Reader) (MsgType, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > MaxFrame {
		return 0, nil, fmt.Errorf("%w: length %d is outside 1..%d", ErrFrame, n, MaxFrame)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return MsgType(buf[0]), buf[1:], nil
}

func (t MsgType) String() string {
	switch t {
	case MsgAssign:
		return "assign"
	case MsgCancel:
		return "cancel"
	case MsgReport:
		return "report"
	case MsgAssignReply:
		return "assign-reply"
	case MsgAck:
		return "ack"
	case MsgReportReply:
		return "report-reply"
	case MsgError:
		return "error"
	}
	return fmt.Sprintf("type(%d)", byte(t))
}

// decodeRequest decodes and checks a request body.
func decodeRequest(t MsgType, body []byte) (any, error) {
	var v interface{ check() error }
	switch t {
	case MsgAssign:
		v = &AssignRequest{}
	case MsgCancel:
		v = &CancelRequest{}
	case MsgReport:
		v = &ReportRequest{}
	default:
		return nil, fmt.Errorf("%w: unknown request type %d", ErrFrame, byte(t))
	}
	if err := checkShape(body); err != nil {
		return nil, err
	}
	if err := msgpack.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("%w: %s body does not decode: %v", ErrFrame, t, err)
	}
	if err := v.check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFrame, t, err)
	}
	return v, nil
}

func (r *AssignRequest) check() error {
	for i := range r.Tasks {
		a := &r.Tasks[i]
		if err := a.Spec.Validate(); err != nil {
			return fmt.Errorf("task %d: %w", i, err)
		}
		if a.Attempt < 1 || a.Cores < 1 || a.Deadline < 0 {
			return fmt.Errorf("task %s: attempt %d and cores %d must be positive, deadline %d not negative", a.Spec.ID, a.Attempt, a.Cores, a.Deadline)
		}
	}
	return nil
}

func (r *CancelRequest) check() error {
	for _, t := range r.Tasks {
		if err := checkRef(t.ID, t.Attempt); err != nil {
			return err
		}
	}
	return nil
}

func (r *ReportRequest) check() error {
	if r.Node == "" {
		return errors.New("no node name")
	}
	for _, rep := range r.Reports {
		if err := checkRef(rep.TaskID, rep.Attempt); err != nil {
			return err
		}
		if rep.Kind < ReportStarted || rep.Kind > ReportFailed {
			return fmt.Errorf("task %s: unknown report kind %d", rep.TaskID, rep.Kind)
		}
	}
	for _, t := range r.Running {
		if err := checkRef(t.ID, t.Attempt); err != nil {
			return fmt.Errorf("running: %w", err)
		}
	}
	return nil
}

func checkRef(id string, attempt int) error {
	if err := task.ValidateID(id); err != nil {
		return err
	}
	if attempt < 1 {
		return fmt.Errorf("task %s: attempt %d must be positive", id, attempt)
	}
	return nil
}

// refusalWire is a Refusal on the wire.
type refusalWire struct {
	TaskID  string   `msgpack:"id"`
	Attempt int      `msgpack:"attempt"`
	Err     Envelope `msgpack:"err"`
}

// replyWire is the body of an AssignReply or a ReportReply.
type replyWire struct {
	Refused []refusalWire `msgpack:"refused"`
	Cancel  []TaskRef     `msgpack:"cancel,omitempty"` // ReportReply only
}

func toWire(rs []Refusal) replyWire {
	w := replyWire{}
	for _, r := range rs {
		err := r.Err
		if err == nil {
			err = ErrInternal
		}
		w.Refused = append(w.Refused, refusalWire{TaskID: r.TaskID, Attempt: r.Attempt, Err: *envelope(err)})
	}
	return w
}

func fromWire(w replyWire) []Refusal {
	var rs []Refusal
	for _, r := range w.Refused {
		rs = append(rs, Refusal{TaskID: r.TaskID, Attempt: r.Attempt, Err: r.Err.err()})
	}
	return rs
}
