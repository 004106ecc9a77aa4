package batch

import (
	"context"
	"errors"
)

// Drain asks running pilots to drain now: SIGUSR1 to each job's batch
// shell (scancel --batch --signal=USR1), which pilot.sh passes on to its
// agents, as Slurm's own walltime warning would. A job that already ended
// is not an error; a waiting job has no batch shell yet, so cancel those.
func (s *Slurm) Drain(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.run(ctx, nil, "scancel", append([]string{"--batch", "--signal=USR1"}, ids...)...)
	if errors.Is(err, ErrUnknownJob) {
		return nil
	}
	return err
}
