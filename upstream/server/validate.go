package server

import (
	"fmt"
	"github.com/pilot-hpc/pilot/upstream"
	"regexp"

	"github.com/pilot-hpc/pilot/task"
)

var clusterPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

func validCluster(c string) error {
	if !clusterPattern.MatchString(c) {
		return fmt.Errorf("%w: cluster %q must match [A-Za-z0-9._-]{1,128}", upstream.ErrBadRequest, c)
	}
	return nil
}

// validResult checks a result record before it is stored.
func validResult(r *task.Result) error {
	if err := task.ValidateID(r.ID); err != nil {
		return fmt.Errorf("%w: result: %v", upstream.ErrBadRequest, err)
	}
	if r.State != task.StateDone && r.State != task.StateFailed {
		return fmt.Errorf("%w: result %q: state %q must be %q or %q", upstream.ErrBadRequest, r.ID, r.State, task.StateDone, task.StateFailed)
	}
	if len(r.Value) > task.MaxValueBytes {
		return fmt.Errorf("%w: result %q: value is %d bytes, the limit is %d; stage big outputs and send their uri", upstream.ErrBadRequest, r.ID, len(r.Value), task.MaxValueBytes)
	}
	return nil
}

// parseStored decodes a task line the store accepted earlier.
func parseStored(line []byte) (task.Spec, error) {
	s, err := task.Parse(line)
	if err != nil {
		return s, fmt.Errorf("a stored task no longer parses (was queue.db written by a newer version?): %w", err)
	}
	return s, nil
}
