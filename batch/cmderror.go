package batch

import (
	"fmt"
	"strings"
)

// CmdError is a batch command that failed: what ran, how it ended and what
// it said. It wraps ErrUnknownJob when the batch system said it does not
// know the job.
type CmdError struct {
	Args     []string // the command and its arguments
	ExitCode int      // -1 when it did not run or was killed by a signal
	Stderr   string
	Err      error // why it did not run, or ErrUnknownJob; may be nil
}

func (e *CmdError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if msg == "" {
		msg = "no message on stderr"
	}
	return fmt.Sprintf("%s: exit code %d: %s", strings.Join(e.Args, " "), e.ExitCode, clipN(strings.ReplaceAll(msg, "\n", "; "), 600))
}

func (e *CmdError) Unwrap() error { return e.Err }
