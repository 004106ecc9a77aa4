package batch

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// JobStatus is one job as the batch system reports it.
type JobStatus struct {
	ID     string
	Name   string
	State  JobState
	Reason string
	// Nodes is the expanded node list; empty while the job waits.
	Nodes    []string
	NumNodes int
	// Start and End are the actual or expected start and end; zero when
	// the batch system does not know them (waiting, or no time limit).
	Start, End time.Time
	// Limit is the time limit; 0 means none.
	Limit time.Duration
}

// squeueFormat is the -o format that ParseSqueue reads. The name goes last
// because it is the one field that may contain the separator.
const squeueFormat = "%i|%T|%r|%e|%l|%D|%N|%S|%j"

const squeueFields = 9

// ParseSqueue reads the output of `squeue -h -o squeueFormat` with times in
// SLURM_TIME_FORMAT=standard, in loc. Blank lines are skipped; a malformed
// line is an error naming its line number.
func ParseSqueue(out string, loc *time.Location) ([]JobStatus, error) {
	var jobs []JobStatus
	for n, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		j, err := parseSqueueLine(line, loc)
		if err != nil {
			return nil, fmt.Errorf("squeue output line %d %q: %w", n+1, clip(line), err)
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

func parseSqueueLine(line string, loc *time.Location) (JobStatus, error) {
	f := strings.SplitN(line, "|", squeueFields)
	if len(f) != squeueFields {
		return JobStatus{}, fmt.Errorf("want %d fields separated by '|', got %d", squeueFields, len(f))
	}
	j := JobStatus{ID: strings.TrimSpace(f[0]), State: JobState(strings.TrimSpace(f[1])), Reason: f[2], Name: f[8]}
	if j.ID == "" || j.State == "" {
		return JobStatus{}, fmt.Errorf("empty job id or state")
	}
	var err error
	if j.End, err = ParseTime(f[3], loc); err != nil {
		return JobStatus{}, fmt.Errorf("end time: %w", err)
	}
	if j.Limit, err = ParseDuration(f[4]); err != nil {
		return JobStatus{}, fmt.Errorf("time limit: %w", err)
	}
	if j.NumNodes, err = strconv.Atoi(strings.TrimSpace(f[5])); err != nil || j.NumNodes < 0 {
		return JobStatus{}, fmt.Errorf("node count %q is not a number", f[5])
	}
	if j.Nodes, err = ExpandHostlist(f[6]); err != nil {
		return JobStatus{}, err
	}
	if j.Start, err = ParseTime(f[7], loc); err != nil {
		return JobStatus{}, fmt.Errorf("start time: %w", err)
	}
	return j, nil
}

// ParseTime reads a Slurm time stamp in the standard format
// ("2026-11-29T06:44:19", no zone: it is in loc). The words Slurm uses for
// "no such time" (N/A, NONE, Unknown, UNLIMITED, INVALID, NOT_SET) are the
// zero time.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if noValue(s) {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05", s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time like 2026-11-29T06:44:19", clip(s))
	}
	return t, nil
}

func noValue(s string) bool {
	switch strings.ToUpper(s) {
	case "", "N/A", "NONE", "UNKNOWN", "UNLIMITED", "INFINITE", "INVALID", "NOT_SET", "(NULL)":
		return true
	}
	return false
}

// ParseDuration reads a Slurm duration: "M:SS", "H:MM:SS", "D-HH:MM:SS",
// "D-HH" and "D-HH:MM". No-value words are 0.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if noValue(s) {
		return 0, nil
	}
	bad := fmt.Errorf("%q is not a Slurm duration like 1-02:03:04 or 5:00", clip(s))
	days := 0
	rest := s
	if d, r, ok := strings.Cut(s, "-"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 100000 {
			return 0, bad
		}
		days, rest = n, r
	}
	parts := strings.Split(rest, ":")
	if len(parts) > 3 {
		return 0, bad
	}
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 1000000 {
			return 0, bad
		}
		nums[i] = n
	}
	var h, m, sec int
	switch {
	case days > 0 || strings.Contains(s, "-"):
		// After a day count the fields are hours[:minutes[:seconds]].
		h = nums[0]
		if len(nums) > 1 {
			m = nums[1]
		}
		if len(nums) > 2 {
			sec = nums[2]
		}
	case len(nums) == 3:
		h, m, sec = nums[0], nums[1], nums[2]
	case len(nums) == 2:
		m, sec = nums[0], nums[1]
	default:
		m = nums[0] // a bare number is minutes, as in --time=30
	}
	return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour +
		time.Duration(m)*time.Minute + time.Duration(sec)*time.Second, nil
}

// FormatDuration writes d as Slurm's D-HH:MM:SS, rounded up to whole
// minutes, because Slurm's limits are whole minutes (--time=0:30 is 1:00).
func FormatDuration(d time.Duration) string {
	mins := int64((d + time.Minute - 1) / time.Minute)
	if mins < 1 {
		mins = 1
	}
	return fmt.Sprintf("%d-%02d:%02d:00", mins/(24*60), mins/60%24, mins%60)
}

// scontrolKey finds "Key=" at the start of a field of `scontrol show job`.
// Values may contain blanks ("JobName=my job", "WorkDir=/my runs"), so a
// field runs until the next blank followed by a key.
var scontrolKey = regexp.MustCompile(`(?:^|\s)([A-Za-z][A-Za-z0-9_/:]*)=`)

// ParseScontrol reads one job record of `scontrol show job [-o] ID` into its
// fields. Keys appear once each; unknown ones are kept, so a newer Slurm's
// extra fields do no harm.
func ParseScontrol(out string) (map[string]string, error) {
	out = strings.TrimSpace(out)
	locs := scontrolKey.FindAllStringSubmatchIndex(out, -1)
	if len(locs) == 0 || !strings.HasPrefix(out, "JobId=") {
		return nil, fmt.Errorf("scontrol output %q: want a record starting with JobId=", clip(out))
	}
	fields := make(map[string]string, len(locs))
	for i, l := range locs {
		end := len(out)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		key := out[l[2]:l[3]]
		if _, dup := fields[key]; !dup {
			fields[key] = strings.TrimSpace(out[l[1]:end])
		}
	}
	return fields, nil
}

// parseSbatch reads `sbatch --parsable` output: "ID" or "ID;cluster", maybe
// after warning lines.
func parseSbatch(out string) (string, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	id, _, _ := strings.Cut(last, ";")
	if id == "" || strings.ContainsAny(id, " \t") {
		return "", fmt.Errorf("sbatch --parsable printed %q, want a job id", clip(out))
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("sbatch --parsable printed %q, want a numeric job id", clip(out))
		}
	}
	return id, nil
}
