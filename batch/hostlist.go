package batch

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxHosts bounds what one hostlist may expand to, so a malformed or hostile
// list ("n[0-999999999]") costs an error, not the node's memory.
const MaxHosts = 1 << 20

// ExpandHostlist expands a Slurm hostlist such as
// "nid[0001-0003,0010],gpu-[1-2]" into host names in order. Ranges keep the
// zero padding of their low bound; several bracket groups in one name
// ("r[1-2]n[1-2]") multiply out as Slurm does. An empty list is no hosts.
func ExpandHostlist(list string) ([]string, error) {
	var hosts []string
	for _, item := range splitTop(list) {
		if item == "" {
			continue
		}
		expanded, err := expandItem(item, MaxHosts-len(hosts))
		if err != nil {
			return nil, fmt.Errorf("hostlist %q: %w", clip(list), err)
		}
		hosts = append(hosts, expanded...)
	}
	return hosts, nil
}

// splitTop splits on the commas that are not inside brackets.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// expandItem expands one name with zero or more bracket groups.
func expandItem(item string, budget int) ([]string, error) {
	open := strings.IndexByte(item, '[')
	if open < 0 {
		if strings.ContainsAny(item, "] \t\n") {
			return nil, fmt.Errorf("host %q: stray ']' or blank", item)
		}
		return []string{item}, nil
	}
	end := strings.IndexByte(item[open:], ']')
	if end < 0 {
		return nil, fmt.Errorf("host %q: '[' without ']'", item)
	}
	end += open
	prefix, group, rest := item[:open], item[open+1:end], item[end+1:]
	if strings.ContainsAny(prefix, "] \t\n") {
		return nil, fmt.Errorf("host %q: stray ']' or blank", item)
	}
	nums, err := expandGroup(group, budget)
	if err != nil {
		return nil, fmt.Errorf("host %q: %w", item, err)
	}
	var tails []string
	if rest == "" {
		tails = []string{""}
	} else if tails, err = expandItem(rest, budget); err != nil {
		return nil, err
	}
	if len(nums)*len(tails) > budget {
		return nil, fmt.Errorf("expands to more than %d hosts", MaxHosts)
	}
	out := make([]string, 0, len(nums)*len(tails))
	for _, n := range nums {
		for _, t := range tails {
			out = append(out, prefix+n+t)
		}
	}
	return out, nil
}

// expandGroup expands "0001-0003,0010" into its numbers as strings.
func expandGroup(group string, budget int) ([]string, error) {
	if group == "" {
		return nil, fmt.Errorf("empty brackets")
	}
	var out []string
	for _, r := range strings.Split(group, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		if !isDigits(lo) || (isRange && !isDigits(hi)) {
			return nil, fmt.Errorf("range %q: want N or N-M with decimal digits", r)
		}
		if !isRange {
			if len(out) >= budget {
				return nil, fmt.Errorf("expands to more than %d hosts", MaxHosts)
			}
			out = append(out, lo)
			continue
		}
		a, errA := strconv.ParseUint(lo, 10, 63)
		b, errB := strconv.ParseUint(hi, 10, 63)
		if errA != nil || errB != nil || b < a {
			return nil, fmt.Errorf("range %q: the high end must be a number at least the low end", r)
		}
		if b-a >= uint64(budget-len(out)) {
			return nil, fmt.Errorf("expands to more than %d hosts", MaxHosts)
		}
		for n := a; n <= b; n++ {
			out = append(out, fmt.Sprintf("%0*d", len(lo), n))
		}
	}
	return out, nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ParseCountList expands Slurm's compressed per-node counts, as in
// SLURM_JOB_CPUS_PER_NODE ("2(x3),4" is 2, 2, 2, 4).
func ParseCountList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		val, rep := part, "1"
		if i := strings.Index(part, "(x"); i >= 0 && strings.HasSuffix(part, ")") {
			val, rep = part[:i], part[i+2:len(part)-1]
		}
		v, err := strconv.Atoi(val)
		r, err2 := strconv.Atoi(rep)
		if err != nil || err2 != nil || v < 0 || r < 1 || r > MaxHosts-len(out) {
			return nil, fmt.Errorf("count list %q: %q is not N or N(xM)", clip(s), part)
		}
		for range r {
			out = append(out, v)
		}
	}
	return out, nil
}

// clip keeps error messages short when the input is huge.
func clip(s string) string { return clipN(s, 80) }

func clipN(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
