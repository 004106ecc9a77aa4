package pilot

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The attempt log is hand-encoded; the checker reads it as json.Marshal
// wrote it. These records reach every branch: strings that need escapes
// (quotes, control characters, HTML characters, non-ASCII, invalid UTF-8,
// U+2028), nil, empty and negative cores, omitted fields, zones, and times
// RFC 3339 cannot say (year 10000, an offset of 24 hours).
func TestAttemptLogJSON(t *testing.T) {
	now := time.Now() // with a monotonic reading, which JSON leaves out
	zone := time.FixedZone("IST", 5*3600+1800)
	times := []time.Time{
		{}, now, now.UTC(), now.In(zone), time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, zone), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 24*3600)),
	}
	strs := []string{"", "t17", "local-0", `a "quoted" \ task`, "tab\there\nline\x00\x1f\x7f",
		"a<b", "a>b", "a&b", `a"b`, `a\b`, "a\x01b", "café ☕", "bad \xff\xfe utf-8", "line\u2028sep\u2029", "failed-infra"}
	ints := [][]int{nil, {}, {0}, {3, 1, -2, 1 << 40}}
	var recs []attemptRecord
	for i, s := range strs {
		recs = append(recs, attemptRecord{
			Task: s, Attempt: i - 1, Node: strs[(i+1)%len(strs)], Pilot: strs[(i+2)%len(strs)],
			Cores: ints[i%len(ints)], CPUs: ints[(i+1)%len(ints)],
			Start: times[i%len(times)], End: times[(i+3)%len(times)],
			Cache: strs[(i+3)%len(strs)], Outcome: strs[(i+4)%len(strs)],
		})
	}
	for _, tm := range times {
		recs = append(recs, attemptRecord{Task: "t1", Attempt: 1, Node: "n", Pilot: "p", Cores: []int{0}, Start: tm, End: now, Outcome: "done"})
	}
	for _, r := range recs {
		checkAttemptJSON(t, r)
		checkStartJSON(t, startRecord{Task: r.Task, Attempt: r.Attempt, Node: r.Node, Start: r.Start})
	}
	// A new field is not encoded until appendJSON encodes it (and the
	// records above set it).
	if n := reflect.TypeFor[attemptRecord]().NumField(); n != 10 {
		t.Errorf("attemptRecord has %d fields: encode the new one in its appendJSON", n)
	}
	if n := reflect.TypeFor[startRecord]().NumField(); n != 4 {
		t.Errorf("startRecord has %d fields: encode the new one in its appendJSON", n)
	}
}

func FuzzAttemptLogJSON(f *testing.F) {
	f.Add("t1", "local-0", "done", 1, []byte{0, 1}, int64(1_780_000_000), int64(123_456_789), 3600)
	f.Add(`<"\>`, "café", "\xff", -1, []byte{}, int64(-62_135_596_800), int64(0), 0)
	f.Add("", "", "", 0, []byte(nil), int64(253_402_300_800), int64(1), -86400)
	f.Fuzz(func(t *testing.T, task, node, outcome string, attempt int, cores []byte, sec, nsec int64, offset int) {
		ids := make([]int, len(cores))
		for i, c := range cores {
			ids[i] = int(c) - 128
		}
		start := time.Unix(sec, nsec).In(time.FixedZone("z", offset))
		r := attemptRecord{Task: task, Attempt: attempt, Node: node, Pilot: outcome, Cores: ids, CPUs: ids,
			Start: start, End: start.Add(time.Duration(nsec)), Cache: node, Outcome: outcome}
		if len(cores) == 0 {
			r.Cores = nil
		}
		checkAttemptJSON(t, r)
		checkStartJSON(t, startRecord{Task: task, Attempt: attempt, Node: node, Start: start})
	})
}

func checkAttemptJSON(t *testing.T, r attemptRecord) {
	t.Helper()
	want, wantErr := json.Marshal(r)
	got, err := r.appendJSON([]byte("prefix"))
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%+v: appendJSON error %v, json.Marshal error %v", r, err, wantErr)
	}
	if err == nil && string(got) != "prefix"+string(want) {
		t.Fatalf("%+v:\nappendJSON   %s\njson.Marshal %s", r, got, want)
	}
}

func checkStartJSON(t *testing.T, r startRecord) {
	t.Helper()
	want, wantErr := json.Marshal(r)
	got, err := r.appendJSON(nil)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%+v: appendJSON error %v, json.Marshal error %v", r, err, wantErr)
	}
	if err == nil && string(got) != string(want) {
		t.Fatalf("%+v:\nappendJSON   %s\njson.Marshal %s", r, got, want)
	}
}

// TestAttemptLogLines: each record is one line, as json.Marshal writes it;
// a record it cannot encode leaves an empty line, as it always did.
func TestAttemptLogLines(t *testing.T) {
	dir := t.TempDir()
	l, err := openAttemptLog(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 6, 7, 8, 9, 10, time.UTC)
	recs := []attemptRecord{
		{Task: "a-long-task-name-" + strings.Repeat("x", 300), Attempt: 1, Node: "n1", Pilot: "p1", Cores: []int{0, 1}, CPUs: []int{4, 5}, Start: at, End: at.Add(time.Second), Outcome: "done"},
		{Task: "b", Attempt: 2, Node: "n1", Pilot: "p1", Start: at, End: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Outcome: "exit"},
		{Task: "c", Attempt: 1, Node: "n1", Pilot: "p1", Cores: []int{1}, Start: at, End: at, Cache: "hit", Outcome: "done"},
	}
	var want, wantStarts bytes.Buffer
	for _, r := range recs {
		l.write(r)
		b, _ := json.Marshal(r)
		want.Write(append(b, '\n'))
		s := startRecord{Task: r.Task, Attempt: r.Attempt, Node: r.Node, Start: r.End}
		l.started(s)
		b, _ = json.Marshal(s)
		wantStarts.Write(append(b, '\n'))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"attempts.jsonl": want.String(), "starts.jsonl": wantStarts.String()} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s:\n%s\nwant\n%s", name, got, want)
		}
	}
}

// BenchmarkAttemptLog is a task's two lines: its start and its attempt.
func BenchmarkAttemptLog(b *testing.B) {
	l, err := openAttemptLog(b.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	now := time.Now()
	cores := []int{1}
	b.ReportAllocs()
	for b.Loop() {
		l.started(startRecord{Task: "t4711", Attempt: 1, Node: "local-0", Start: now})
		l.write(attemptRecord{Task: "t4711", Attempt: 1, Node: "local-0", Pilot: "local-0", Cores: cores, CPUs: cores, Start: now, End: now, Outcome: "done"})
	}
}
