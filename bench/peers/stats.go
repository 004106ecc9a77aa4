package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"slices"
)

// Span reads the stamps the tasks wrote ("ID START END" per line) and
// returns how many distinct tasks stamped and the makespan: last end minus
// first start.
func Span(path string) (n int, span float64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	first, last := math.Inf(1), math.Inf(-1)
	ids := map[string]bool{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		var id string
		var s, e float64
		if _, err := fmt.Sscanf(sc.Text(), "%s %g %g", &id, &s, &e); err != nil {
			return 0, 0, fmt.Errorf("%s:%d: want \"ID START END\": %w", path, line, err)
		}
		first, last = min(first, s), max(last, e)
		ids[id] = true
	}
	n = len(ids)
	if n == 0 {
		return 0, 0, sc.Err()
	}
	return n, last - first, sc.Err()
}

// Summary is the median and range of one figure over the rounds.
type Summary struct {
	Median, Min, Max float64
	N                int
}

// Summarize sums up xs; an empty xs gives N == 0.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Summary{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Format prints the median with the range when there is more than one value.
func (s Summary) Format(prec int) string {
	if s.N == 0 {
		return "-"
	}
	if s.N == 1 || s.Min == s.Max {
		return fmt.Sprintf("%.*f", prec, s.Median)
	}
	return fmt.Sprintf("%.*f (%.*f–%.*f)", prec, s.Median, prec, s.Min, prec, s.Max)
}
