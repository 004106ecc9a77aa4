package rpc

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/pilot-hpc/pilot/task"
	"github.com/vmihailenco/msgpack/v5"
)

func encodeFrame(t MsgType, v any) []byte {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := writeFrame(w, t, v); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// FuzzFrame feeds arbitrary bytes to the server's read and decode path: it
// must never panic, and whatever it accepts must survive a re-encoding.
func FuzzFrame(f *testing.F) {
	f.Add(encodeFrame(MsgAssign, &AssignRequest{Leader: "n1", Tasks: []Assignment{assignment("a", 1)}}))
	f.Add(encodeFrame(MsgCancel, &CancelRequest{Tasks: []TaskRef{{ID: "a", Attempt: 2}}}))
	f.Add(encodeFrame(MsgReport, &ReportRequest{Node: "n", Reports: []Report{{Kind: ReportFailed, TaskID: "a", Attempt: 1, Result: task.Result{ID: "a", State: task.StateFailed}}}}))
	f.Add([]byte{0, 0, 0, 1, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		typ, body, err := readFrame(bytes.NewReader(in))
		if err != nil {
			return
		}
		req, err := decodeRequest(typ, body)
		if err != nil {
			return
		}
		again, err := msgpack.Marshal(req)
		if err != nil {
			t.Fatalf("accepted %T does not re-encode: %v", req, err)
		}
		if _, err := decodeRequest(typ, again); err != nil {
			t.Fatalf("accepted %T fails after a round trip: %v", req, err)
		}
	})
}

// FuzzReplyDecode feeds arbitrary bodies to the client's reply decoding.
func FuzzReplyDecode(f *testing.F) {
	b, _ := msgpack.Marshal(toWire([]Refusal{{TaskID: "a", Attempt: 1, Err: ErrStale}}))
	f.Add(b)
	e, _ := msgpack.Marshal(&Envelope{Code: CodeNotLeader, Message: "m", Leader: "x:1"})
	f.Add(e)
	f.Fuzz(func(t *testing.T, body []byte) {
		if checkShape(body) != nil {
			return
		}
		var w replyWire
		if msgpack.Unmarshal(body, &w) == nil {
			for _, r := range fromWire(w) {
				if r.Err == nil {
					t.Fatal("a refusal without an error")
				}
			}
		}
		var env Envelope
		if msgpack.Unmarshal(body, &env) == nil && env.err() == nil {
			t.Fatal("an envelope without an error")
		}
	})
}
