package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSpanCountsDistinctTasks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamps")
	data := "0 100.5 101.0\n1 100.0 100.2\n1 100.0 100.2\n2 100.7 102.25\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	n, span, err := Span(path)
	if err != nil || n != 3 || span != 2.25 {
		t.Fatalf("Span = %d tasks, %v s, %v; want 3 tasks, 2.25 s", n, span, err)
	}
	if err := os.WriteFile(path, []byte(data+"3 oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Span(path); err == nil || !strings.Contains(err.Error(), "stamps:5") {
		t.Fatalf("a bad stamp line gave %v, want an error naming line 5", err)
	}
}

func TestSummarize(t *testing.T) {
	odd := Summarize([]float64{3, 1, 2})
	if odd != (Summary{Median: 2, Min: 1, Max: 3, N: 3}) || odd.Format(1) != "2.0 (1.0–3.0)" {
		t.Errorf("odd: %+v %q", odd, odd.Format(1))
	}
	if even := Summarize([]float64{4, 1, 2, 3}); even.Median != 2.5 {
		t.Errorf("even: median %v, want 2.5", even.Median)
	}
	if one := Summarize([]float64{7}); one.Format(0) != "7" {
		t.Errorf("one value: %q, want no range", one.Format(0))
	}
	if none := Summarize(nil); none.N != 0 || none.Format(0) != "-" {
		t.Errorf("no values: %+v", none)
	}
}

func TestParseHelper(t *testing.T) {
	o, err := parseHelper("some log\ndone 9 failed 1 submitted 12 inner_s 2.5\n")
	if err != nil || o.Done != 9 || o.Failed != 1 || o.Inner != 2.5 {
		t.Fatalf("parseHelper = %+v, %v", o, err)
	}
	if _, err := parseHelper("Traceback ...\n"); err == nil {
		t.Fatal("output without a done line was accepted")
	}
}
