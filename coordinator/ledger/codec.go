package ledger

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// ErrDecode wraps every error of Decode: the entry is not a command this
// version knows. Apply panics on it, since the log is corrupt.
var ErrDecode = errors.New("ledger: cannot decode command")

// batchBody is the wire form of a Batch: each command encoded on its own.
type batchBody struct {
	Cmds [][]byte `msgpack:"cmds"`
}

// Encode turns a command into the bytes of one log entry: the CmdType byte,
// then the msgpack body encoded as a map.
func Encode(cmd Command) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeTo(&buf, cmd, true); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func encodeTo(buf *bytes.Buffer, cmd Command, top bool) error {
	if cmd == nil {
		return errors.New("ledger: encode: nil command")
	}
	buf.WriteByte(byte(cmd.Type()))
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(buf)
	b, ok := cmd.(Batch)
	if !ok {
		if err := enc.Encode(cmd); err != nil {
			return fmt.Errorf("ledger: encode %s: %w", cmd.Type(), err)
		}
		return nil
	}
	if !top {
		return errors.New("ledger: encode: a batch may not contain a batch")
	}
	body := batchBody{Cmds: make([][]byte, len(b.Cmds))}
	for i, c := range b.Cmds {
		var sub bytes.Buffer
		if err := encodeTo(&sub, c, false); err != nil {
			return fmt.Errorf("batch command %d: %w", i, err)
		}
		body.Cmds[i] = sub.Bytes()
	}
	return enc.Encode(&body)
}

// Decode reads one log entry written by Encode.
func Decode(data []byte) (Command, error) {
	return decode(data, true)
}

func decode(data []byte, top bool) (Command, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty entry", ErrDecode)
	}
	t, body := CmdType(data[0]), data[1:]
	var err error
	switch t {
	case CmdIngest:
		var c Ingest
		err = unmarshal(body, &c)
		return c, wrapDecode(t, err)
	case CmdAssign:
		var c Assign
		err = unmarshal(body, &c)
		return c, wrapDecode(t, err)
	case CmdStarted:
		var c Started
		err = unmarshal(body, &c)
		return c, wrapDecode(t, err)
	case CmdComplete:
		var c Complete
		err = unmarshal(body, &c)
		return c, wrapDecode(t, err)
	case CmdFail:
		var c Fail
		err = unmarshal(body, &c)
		return c, wrapDecode(t, err)
	case CmdRequeue:
		var c Requeue
		err = unmarshal(body, &c)
		return c, wrapDecode(t, err)
	case CmdAgentJoined:
		var c AgentJoined
		err = unmarshal(body, &c)
		return c, wrapDecode(t, err)
	case CmdAgentLost:
		var c AgentLost
		err = unmarshal(body, &c)
		return c, wrapDecode(t, err)
	case CmdPilotDraining:
		var c PilotDraining
		err = unmarshal(body, &c)
		return c, wrapDecode(t, err)
	case CmdAcked:
		var c Acked
		err = unmarshal(body, &c)
		return c, wrapDecode(t, err)
	case CmdFlush:
		var c Flush
		err = unmarshal(body, &c)
		return c, wrapDecode(t, err)
	case CmdBatch:
		if !top {
			return nil, fmt.Errorf("%w: a batch inside a batch", ErrDecode)
		}
		var bb batchBody
		if err := unmarshal(body, &bb); err != nil {
			return nil, wrapDecode(t, err)
		}
		b := Batch{Cmds: make([]Command, len(bb.Cmds))}
		for i, sub := range bb.Cmds {
			c, err := decode(sub, false)
			if err != nil {
				return nil, fmt.Errorf("batch command %d: %w", i, err)
			}
			b.Cmds[i] = c
		}
		return b, nil
	}
	return nil, fmt.Errorf("%w: unknown command type %d (a newer version wrote this log?)", ErrDecode, uint8(t))
}

func unmarshal(body []byte, v any) error {
	if err := skim(body); err != nil {
		return err
	}
	return msgpack.Unmarshal(body, v)
}

func wrapDecode(t CmdType, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %s body: %v", ErrDecode, t, err)
}
