package pilot

import (
	"os"
	"path/filepath"
	"testing"
)

// TestResultsGrowth: near the end of a run 'pilot local' reads the status
// only when the results file of its queue file grew; a queue URL has no
// file to look at.
func TestResultsGrowth(t *testing.T) {
	dir := t.TempDir()
	grew := resultsGrowth(filepath.Join(dir, "q.jsonl"), dir)
	if grew() {
		t.Fatal("grew before there is a results file")
	}
	results := filepath.Join(dir, "results.jsonl")
	if err := os.WriteFile(results, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !grew() {
		t.Fatal("a new results file did not count as growth")
	}
	if grew() {
		t.Fatal("an unchanged results file counted as growth")
	}
	f, err := os.OpenFile(results, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("{}\n")
	f.Close()
	if !grew() {
		t.Fatal("an appended line did not count as growth")
	}
	if resultsGrowth("http://127.0.0.1:1/", dir)() {
		t.Fatal("a queue URL's results file was looked at")
	}
}
