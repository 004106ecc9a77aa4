package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCheck runs the checker on small hand-written runs, each breaking one
// invariant (or none), and expects exactly the violations named.
func TestCheck(t *testing.T) {
	queue := `{"id":"a","cmd":["true"]}
{"id":"b","cmd":["true"],"max_attempts":2}
not json
{"id":"a","cmd":["false"]}
{"id":"c","cmd":["true"]}
{"id":"half","cmd":["tr`
	cases := []struct {
		name     string
		results  string
		attempts string
		starts   string // the start log beside the attempt log
		flushed  string
		status   map[string]int
		mayPend  bool
		want     []string // substrings, one per violation, in order
	}{
		{name: "clean",
			results: `{"id":"a","state":"done","attempts":1}
{"id":"b","state":"done","attempts":2}
{"id":"line:3","state":"failed","attempts":0,"error":"bad"}
{"id":"line:4","state":"failed","attempts":0,"error":"duplicate id"}
{"id":"c","state":"done","attempts":3}`,
			attempts: `{"task":"a","attempt":1,"cores":[0],"cache":"miss","outcome":"done"}
{"task":"b","attempt":1,"cores":[0],"cache":"miss","outcome":"exit"}
{"task":"b","attempt":2,"cores":[1],"cache":"miss","outcome":"done"}`,
			status: map[string]int{"done": 3, "failed": 2}},
		{name: "lost and twice",
			results: `{"id":"a","state":"done","attempts":1}
{"id":"a","state":"done","attempts":2}
{"id":"line:3","state":"failed","attempts":0}
{"id":"line:4","state":"failed","attempts":0}
{"id":"zz","state":"done","attempts":1}`,
			want: []string{"INV-2 recorded once: task a", "which the queue never had", "INV-1 none lost: task b", "INV-1 none lost: task c"}},
		{name: "flushed is not lost",
			results: `{"id":"a","state":"done","attempts":1}
{"id":"line:3","state":"failed"}
{"id":"line:4","state":"failed"}`,
			flushed: `{"id":"b","cmd":["true"]}
{"id":"c","cmd":["true"]}`,
			status: map[string]int{"done": 1, "failed": 2, "flushed": 1},
			want:   []string{"INV-6 status truthful: pilot status says flushed=1, the checker counts 2"}},
		{name: "visibly pending",
			mayPend: true,
			results: `{"id":"a","state":"done","attempts":1}
{"id":"line:3","state":"failed"}
{"id":"line:4","state":"failed"}`,
			status: map[string]int{"done": 1, "failed": 2, "pending": 1, "leased": 0},
			want:   []string{"INV-6 status truthful: pilot status says pending+leased=1, the checker counts 2 tasks with no record"}},
		{name: "infra charged and re-run",
			results: `{"id":"a","state":"done","attempts":5}
{"id":"b","state":"failed","attempts":2,"error":"max-attempts: 2 of 2 attempts failed"}
{"id":"line:3","state":"failed"}
{"id":"line:4","state":"failed"}
{"id":"c","state":"done","attempts":3}`,
			attempts: `{"task":"b","attempt":1,"cores":[0],"cache":"miss","outcome":"failed-infra"}
{"task":"b","attempt":2,"cores":[0],"cache":"miss","outcome":"exit"}`,
			// a started 4 times (3 with their node killed, no record)
			// then its 5th attempt finished; c was assigned 3 times but
			// started once: no re-execution.
			starts: `{"task":"a","attempt":1}
{"task":"a","attempt":2}
{"task":"a","attempt":3}
{"task":"a","attempt":4}
{"task":"c","attempt":3}`,
			want: []string{"INV-3 bounded re-execution: task a had 4 executions (5 attempts)", "INV-3: task b failed for max-attempts (2) with only 1 task failures"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, text string) string {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(text+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			}
			q := filepath.Join(dir, "q.jsonl")
			if err := os.WriteFile(q, []byte(queue), 0o600); err != nil { // the last line cut short
				t.Fatal(err)
			}
			in := Input{Queue: q, Results: write("results.jsonl", tc.results),
				AttemptLogs: []string{write("attempts.jsonl", tc.attempts)}, Flushed: filepath.Join(dir, "flushed"), Status: tc.status, MayPend: tc.mayPend}
			if tc.flushed != "" {
				write("flushed/f1.jsonl", tc.flushed)
			}
			if tc.starts != "" {
				write("starts.jsonl", tc.starts)
			}
			rep, err := Check(in)
			if err != nil {
				t.Fatal(err)
			}
			wantViolations(t, rep, tc.want)
			if rep.Tasks != 5 {
				t.Errorf("the checker expects %d records; the queue asks for 5 (a, b, line:3, line:4, c; the cut-short last line none)", rep.Tasks)
			}
		})
	}
}

// TestCheckLeaders runs INV-4 on hand-written agent logs: two agents that
// claim one term must fail it.
func TestCheckLeaders(t *testing.T) {
	const lead = `time=2026-11-29T10:00:00Z level=INFO msg="leading the cluster" node=%s term=%d`
	cases := []struct {
		name  string
		logs  []string // one agent's log each
		split int      // > 0: logs[:split] formed one Raft cluster, the rest a later one
		terms int
		want  []string
	}{
		{name: "a later cluster counts its terms anew", split: 1, terms: 3, logs: []string{
			line(lead, "a0", 2),
			line(lead, "a1", 2) + "\n" + line(lead, "a1", 3)}},
		{name: "one leader per term", terms: 3, logs: []string{
			line(lead, "a0", 2) + "\nlevel=INFO msg=\"lost leadership\" node=a0\n" + line(lead, "a0", 5),
			"level=INFO msg=\"agent started\" node=a1\n" + line(lead, "a1", 3),
			""}},
		{name: "two leaders of one term", terms: 2, logs: []string{
			line(lead, "a0", 2) + "\n" + line(lead, "a0", 4),
			line(lead, "a1", 4)},
			want: []string{"INV-4 one leader per term: term 4 is claimed by 2 agents: "}},
		{name: "a claim with no term", terms: 1, logs: []string{
			`level=INFO msg="leading the cluster" node=a0` + "\n" + line(lead, "a1", 1)},
			want: []string{"claims leadership with no term"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var paths []string
			for i, text := range tc.logs {
				p := filepath.Join(dir, "a"+strconv.Itoa(i)+".log")
				if err := os.WriteFile(p, []byte(text+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p)
			}
			paths = append(paths, filepath.Join(dir, "never-started.log"))
			var rep Report
			groups := [][]string{paths}
			if tc.split > 0 { // two clusters one after another
				groups = [][]string{paths[:tc.split], paths[tc.split:]}
			}
			if err := checkLeaders(&rep, groups); err != nil {
				t.Fatal(err)
			}
			wantViolations(t, rep, tc.want)
			if rep.Terms != tc.terms {
				t.Errorf("%d terms claimed, want %d", rep.Terms, tc.terms)
			}
		})
	}
}

func line(format string, node string, term int) string { return fmt.Sprintf(format, node, term) }

// wantViolations checks that rep has exactly the violations want names,
// in order, each containing its text.
func wantViolations(t *testing.T, rep Report, want []string) {
	t.Helper()
	if len(rep.Violations) != len(want) {
		t.Fatalf("%d violations, want %d:\n%s", len(rep.Violations), len(want), strings.Join(rep.Violations, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(rep.Violations[i], w) {
			t.Errorf("violation %d is %q, want it to say %q", i, rep.Violations[i], w)
		}
	}
}
