package site

import (
	"fmt"
	"strings"
	"time"

	"github.com/pilot-hpc/pilot/batch"
)

// Duration is a length of time in a config file: Go's form ("90m",
// "2h30m") or Slurm's ("1-00:00:00", "02:00:00"). A bare number is refused
// because Slurm reads it as minutes and people read it as seconds.
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler for the TOML decoder.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if v, err := time.ParseDuration(s); err == nil {
		if v < 0 {
			return fmt.Errorf("duration %q is negative", s)
		}
		*d = Duration(v)
		return nil
	}
	if strings.ContainsAny(s, ":-") {
		if v, err := batch.ParseDuration(s); err == nil {
			*d = Duration(v)
			return nil
		}
	}
	return fmt.Errorf("duration %q: write it like \"90m\", \"2h\" or Slurm's \"1-00:00:00\"", s)
}

// D is the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
