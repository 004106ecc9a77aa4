package upstream

import (
	"errors"
	"fmt"

	"github.com/pilot-hpc/pilot/upstream/server/wire"
)

// Errors a queue server returns, turned back from the stable codes of its
// error envelope (never from the message text). Each is wrapped with the
// server's message, which says what to do.
var (
	// ErrUnauthorized: no token, or one the server does not know.
	ErrUnauthorized = errors.New("queue server refused the token")
	// ErrForbidden: the token's role may not do this (the message names
	// the role that may).
	ErrForbidden = errors.New("queue server refused the request for this token's role")
	// ErrTooLarge: the request body exceeds the server's limit.
	ErrTooLarge = errors.New("request too large for the queue server")
	// ErrBadRequest: the server could not accept the request as sent.
	ErrBadRequest = errors.New("queue server refused a malformed request")
)

// codeError maps an envelope code to the error a caller can test with
// errors.Is. Codes a retry may cure wrap ErrUnavailable.
func codeError(status int, body wire.ErrorDetail) error {
	var base error
	switch body.Code {
	case wire.CodeUnauthorized:
		base = ErrUnauthorized
	case wire.CodeForbidden:
		base = ErrForbidden
	case wire.CodeTooLarge:
		base = ErrTooLarge
	case wire.CodeBadRequest, wire.CodeNotFound, wire.CodeMethodNotAllowed:
		base = ErrBadRequest
	case wire.CodeUnavailable, wire.CodeInternal:
		base = ErrUnavailable
	default:
		if status >= 500 {
			base = ErrUnavailable
		} else {
			base = ErrBadRequest
		}
	}
	msg := body.Message
	if msg == "" {
		msg = fmt.Sprintf("HTTP %d", status)
	}
	return fmt.Errorf("%w: %s", base, msg)
}
