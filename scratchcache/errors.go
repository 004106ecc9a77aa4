package scratchcache

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"
)

// Errors callers tell apart with errors.Is.
var (
	// ErrInfra wraps every failure of the filesystem or the results store:
	// the agent reports the task failed with reason "infra" (not the
	// task's fault) and retries it elsewhere or later.
	ErrInfra = errors.New("scratch cache infrastructure failure")
	// ErrNoSpace is wrapped (with ErrInfra) when the scratch filesystem or
	// the results store is full or over quota.
	ErrNoSpace = errors.New("no space left")
	// ErrFenced: a newer attempt holds the entry, or took this attempt's
	// lease over; this attempt must stop and must not report a result.
	ErrFenced = errors.New("attempt fenced by a newer attempt")
	// ErrHeld: another live attempt holds the entry's lease. Retry after
	// HeldError.StaleAt, when the lease becomes stale if not renewed.
	ErrHeld = errors.New("entry held by a live attempt")
	// ErrCorrupt: a sealed entry failed verification. Open quarantines it
	// and returns a lease to recompute it.
	ErrCorrupt = errors.New("sealed entry fails verification")
	// ErrInvalid: a bad argument (digest, task id, attempt, output name).
	ErrInvalid = errors.New("invalid argument")
)

// HeldError says who holds an entry and when its lease goes stale.
type HeldError struct {
	Digest  string
	Task    string
	Attempt int
	Owner   string
	StaleAt time.Time
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%v: entry %s is held by attempt %d of task %s (%s); its lease goes stale at %s unless renewed",
		ErrHeld, e.Digest, e.Attempt, e.Task, e.Owner, e.StaleAt.UTC().Format(time.RFC3339))
}

func (e *HeldError) Unwrap() error { return ErrHeld }

// infraErr wraps a filesystem or store failure with ErrInfra (and
// ErrNoSpace when the disk or quota is full), naming the operation and path.
func infraErr(op, path string, err error) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != path {
		err = fmt.Errorf("%s %s: %w", op, path, err) // else err names both already
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w: %w (free space or raise the quota of that filesystem, then retry)", ErrInfra, ErrNoSpace, err)
	}
	return fmt.Errorf("%w: %w", ErrInfra, err)
}
