// Command pilot is the one binary of the project: every subcommand lives in
// a file of its own here and only turns flags into a call into a package.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time by the Makefile (-ldflags -X main.version=...).
var version = "dev"

var rootCmd = &cobra.Command{
	Use:   "pilot",
	Short: "A pilot-job scheduler that lives inside HPC allocations",
	Long: `pilot runs many idempotent tasks inside large Slurm allocations.

Pilots (Slurm jobs) form a gossip cluster with a Raft-replicated task ledger,
lease work from an upstream queue (a JSONL file or a 'pilot serve' URL), pack
cores densely, never start a task that cannot finish before the allocation
ends, and lose nothing when nodes, leaders or whole allocations go away.

Start here:
  pilot local --nodes 3 --queue examples/shifts.jsonl   # a whole cluster on this machine
  pilot status --queue examples/shifts.jsonl            # every queue a task passes through`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := rootCmd.ExecuteContext(ctx)
	stop()
	os.Exit(report(err))
}

// Exit codes, the same for every subcommand.
const (
	exitOK          = 0
	exitUserError   = 1 // bad input or a refused request: fix and rerun
	exitUsage       = 2 // wrong flags or arguments
	exitUnavailable = 3 // an outage: retrying later may succeed
)

// exitError carries an exit code and an optional hint through cobra.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

func unavailable(err error, hint string) error {
	return &exitError{code: exitUnavailable, err: err, hint: hint}
}

func withHint(err error, hint string) error {
	return &exitError{code: exitUserError, err: err, hint: hint}
}

// report prints err as one line (plus a hint) and returns the exit code.
func report(err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "pilot: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		hint := ee.hint
		if hint == "" && ee.code == exitUsage {
			hint = "see 'pilot --help' or 'pilot COMMAND --help'"
		}
		if hint != "" {
			fmt.Fprintf(os.Stderr, "hint: %s\n", hint)
		}
		return ee.code
	}
	return exitUserError
}

func init() {
	rootCmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageErr("%w", err)
	})
}
