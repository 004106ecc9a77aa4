package rpc

import (
	"errors"
	"fmt"
)

// Code is the stable number of an error on the wire. Append-only.
type Code uint16

const (
	CodeInternal    Code = 1 // a bug or an unexpected failure on the peer
	CodeBadRequest  Code = 2 // the frame did not decode or broke a rule
	CodeNotLeader   Code = 3 // send to the leader named in the envelope
	CodeStale       Code = 4 // the attempt is older than the one in force
	CodeNoCapacity  Code = 5 // the node has not the cores or memory free
	CodeDraining    Code = 6 // the node takes no new task
	CodeUnsupported Code = 7 // the peer serves no such request
	CodeUnknownTask Code = 8 // the peer knows no such task
)

// The sentinels a *RemoteError wraps, one per code.
var (
	ErrInternal    = errors.New("internal error on the peer")
	ErrBadRequest  = errors.New("bad request")
	ErrNotLeader   = errors.New("not the leader")
	ErrStale       = errors.New("stale attempt")
	ErrNoCapacity  = errors.New("not enough free capacity")
	ErrDraining    = errors.New("node is draining")
	ErrUnsupported = errors.New("request not served by this peer")
	ErrUnknownTask = errors.New("unknown task")
)

// ErrUnavailable wraps transport failures: the peer could not be reached,
// the connection broke, or it did not answer in time. Retry later.
var ErrUnavailable = errors.New("peer unavailable")

var sentinels = map[Code]error{
	CodeInternal:    ErrInternal,
	CodeBadRequest:  ErrBadRequest,
	CodeNotLeader:   ErrNotLeader,
	CodeStale:       ErrStale,
	CodeNoCapacity:  ErrNoCapacity,
	CodeDraining:    ErrDraining,
	CodeUnsupported: ErrUnsupported,
	CodeUnknownTask: ErrUnknownTask,
}

// Envelope is an error on the wire.
type Envelope struct {
	Code    Code   `msgpack:"code"`
	Message string `msgpack:"msg"`
	Leader  string `msgpack:"leader,omitempty"`
}

// RemoteError is an error the peer returned. It wraps the sentinel of its
// code; a code this version does not know wraps ErrInternal.
type RemoteError struct {
	Code    Code
	Message string
	// Leader is the leader's RPC address when Code is CodeNotLeader and
	// the peer knows it.
	Leader string
}

func (e *RemoteError) Error() string {
	if e.Leader != "" {
		return fmt.Sprintf("%s (the leader is %s)", e.Message, e.Leader)
	}
	return e.Message
}

func (e *RemoteError) Unwrap() error {
	if s, ok := sentinels[e.Code]; ok {
		return s
	}
	return ErrInternal
}

// NotLeader is what a handler returns when this node is not the leader;
// leader is the leader's RPC address, "" when unknown.
func NotLeader(leader string) error {
	return &RemoteError{Code: CodeNotLeader, Message: "this node is not the leader", Leader: leader}
}

// envelope turns a handler's error into its wire form: a *RemoteError
// keeps its code, an error wrapping a sentinel gets that sentinel's code,
// anything else is CodeInternal.
func envelope(err error) *Envelope {
	var re *RemoteError
	if errors.As(err, &re) {
		return &Envelope{Code: re.Code, Message: err.Error(), Leader: re.Leader}
	}
	for _, code := range []Code{CodeBadRequest, CodeNotLeader, CodeStale, CodeNoCapacity, CodeDraining, CodeUnsupported, CodeUnknownTask} {
		if errors.Is(err, sentinels[code]) {
			return &Envelope{Code: code, Message: err.Error()}
		}
	}
	return &Envelope{Code: CodeInternal, Message: err.Error()}
}

func (e *Envelope) err() error {
	return &RemoteError{Code: e.Code, Message: e.Message, Leader: e.Leader}
}
