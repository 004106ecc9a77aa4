package upstream

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilot-hpc/pilot/task"
)

func TestFileSubmit(t *testing.T) {
	c := newClock()
	q, path := newQ(t, 2, c)
	specs := []task.Spec{
		{ID: "new-1", Cmd: []string{"true"}},
		{ID: taskID(1), Cmd: []string{"false"}},      // another task under a used id
		{ID: "new-1", Fn: "f"},                       // repeated in the batch
		{ID: "../../etc/passwd", Cmd: []string{"x"}}, // escaping id
		{ID: "new-2", Fn: "nmr", Args: []string{"CCO"}, Cores: 4},
	}
	rep, err := q.Submit(ctx, specs)
	if err != nil || rep.Accepted != 2 || len(rep.Rejected) != 3 {
		t.Fatalf("submit: %+v %v", rep, err)
	}
	for i, want := range []string{"line 2 of " + path + " has another task", "task 1 of this submission", "must match"} {
		if r := rep.Rejected[i]; !strings.Contains(r.Reason, want) || r.Index != i+1 {
			t.Errorf("rejection %d: %+v, want index %d and %q", i, r, i+1, want)
		}
	}
	// The same tasks again, as after a submission cut short: accepted,
	// nothing stored twice.
	if rep, err := q.Submit(ctx, []task.Spec{specs[0], specs[4], {ID: taskID(0), Cmd: []string{"true"}, Cores: 1, MaxAttempts: 3}}); err != nil || rep.Accepted != 3 || len(rep.Rejected) != 0 {
		t.Fatalf("identical resubmission: %+v %v", rep, err)
	}
	if b, _ := os.ReadFile(path); strings.Count(string(b), "\n") != 4 {
		t.Fatalf("identical resubmission stored again:\n%s", b)
	}
	// A half-written line by hand: submitted tasks still land whole on a
	// line of their own, and the cut line fails with its number.
	appendRaw(t, path, `{"id":"by-hand","cmd":[`)
	if rep, err := q.Submit(ctx, []task.Spec{{ID: "new-3", Cmd: []string{"true"}}}); err != nil || rep.Accepted != 1 {
		t.Fatalf("submit after a partial line: %+v %v", rep, err)
	}
	ids := leaseAll(t, q, "a", 100)
	if strings.Join(ids, ",") != strings.Join([]string{taskID(0), taskID(1), "new-1", "new-2", "new-3"}, ",") {
		t.Fatalf("leased %v", ids)
	}
	rs := readResults(t, q)
	if len(rs) != 1 || rs[0].Line != 5 || !strings.Contains(rs[0].Error, path+":5:") {
		t.Fatalf("results %+v", rs)
	}
	// A second queue on the same file sees what the first one wrote.
	q2 := openQ(t, path, c)
	if s := checkInvariants(t, q2, 6); s.Leased != 5 || s.Failed != 1 {
		t.Fatalf("status %+v", s)
	}
	if rep, _ := q2.Submit(ctx, []task.Spec{{ID: "new-2", Cmd: []string{"x"}}}); len(rep.Rejected) != 1 {
		t.Fatalf("second queue accepted a known id: %+v", rep)
	}
}

func TestSubmitLines(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "tasks.jsonl")
	q := openQ(t, path, c)
	in := strings.Join([]string{
		taskLine(0),
		``,
		`{"id":"bad","cmd":["x"],"corse":1}`,
		taskLine(1),
		taskLine(0),
		`{"id":"x","cmd":["` + strings.Repeat("a", task.MaxLineBytes) + `"]}`,
		taskLine(2), // no newline at the end
	}, "\n")
	var progress []int
	rep, err := SubmitLines(ctx, q, strings.NewReader(in), SubmitLinesOptions{Name: "in.jsonl", BatchTasks: 2, Progress: func(r LinesReport) {
		progress = append(progress, r.Accepted)
	}})
	if err != nil || rep.Accepted != 3 || rep.Lines != 6 || rep.Bytes != int64(len(in)) {
		t.Fatalf("report %+v, %v", rep, err)
	}
	var got []string
	for _, r := range rep.Rejected {
		got = append(got, r.String())
	}
	want := []string{
		`in.jsonl:3: invalid task: unknown field "corse"`,
		`in.jsonl:5: duplicate id "t-000000": line 1 of in.jsonl has it too`,
		`in.jsonl:6: the line is longer than the limit`,
	}
	if len(got) != len(want) {
		t.Fatalf("rejected %q", got)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("rejection %q, want %q...", got[i], want[i])
		}
	}
	if len(progress) != 3 || progress[2] != 3 { // 6 lines in batches of 2
		t.Errorf("progress %v", progress)
	}
	b, _ := os.ReadFile(path)
	if strings.Count(string(b), "\n") != 3 {
		t.Fatalf("queue file:\n%s", b)
	}
	// A queue that fails stops it with the line range it lost.
	q.Close()
	_, err = SubmitLines(ctx, q, strings.NewReader(taskLine(9)), SubmitLinesOptions{})
	if err == nil || !strings.Contains(err.Error(), "stdin: submit the tasks of lines 1-1") {
		t.Fatalf("submit to a closed queue: %v", err)
	}
}
