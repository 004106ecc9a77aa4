package ledger

import (
	"bytes"
	"slices"
	"testing"

	"github.com/pilot-hpc/pilot/task"
)

// lateDone is the result an agent on n1 sends when attempt 1 ends well.
func lateDone(attempt int) Complete {
	return Complete{At: 20, Items: []Completion{{Task: "a", Attempt: attempt,
		Result: task.Result{Node: "n1", Pilot: "p1", RuntimeS: 7, Value: []byte(`{"shift":2.5}`)}}}}
}

// TestLateSuccessWhileQueued: a success of the attempt that was requeued,
// arriving before the task is assigned again, is the task's result, however
// the attempt was requeued.
func TestLateSuccessWhileQueued(t *testing.T) {
	requeues := map[string]func(b *book){
		"agent-lost":       func(b *book) { b.ok(AgentLost{At: 10, Node: "n1"}) },
		"agent-lost-first": func(b *book) { b.ok(AgentLost{At: 10, Node: "n1", MayHaveRun: []string{"a"}}) },
		"fail-infra":       func(b *book) { b.ok(fail("a", 1, FailInfra)) },
		"requeue":          func(b *book) { b.ok(requeue("a", 1)) },
	}
	for name, lose := range requeues {
		for _, from := range []State{Assigned, Running} {
			t.Run(name+"/"+from.String(), func(t *testing.T) {
				b := into(t, from)
				b.ok(ingest(spec("b", 1, 100))) // queued behind a
				lose(b)
				before := b.task("a")
				if before.State != Queued || before.Attempt != 1 {
					t.Fatalf("setup: %+v", before)
				}
				out := b.ok(lateDone(1))
				if !slices.Equal(out.Final, []string{"a"}) || !slices.Equal(out.Late, []string{"a"}) || out.Applied != 1 || len(out.Duplicates) != 0 {
					t.Fatalf("outcome %+v, want a final a", out)
				}
				tk := b.task("a")
				r := tk.Result
				if tk.State != Done || r == nil || r.State != task.StateDone || r.Attempts != 1 || r.Node != "n1" || string(r.Value) != `{"shift":2.5}` {
					t.Fatalf("record %+v, result %+v", tk, r)
				}
				if tk.InfraFailures != before.InfraFailures || tk.TaskFailures != 0 {
					t.Fatalf("counters changed by the late result: %+v, were %+v", tk, before)
				}
				c := b.l.Counts()
				if c.Queued != 1 || c.Done != 1 || c.Duplicates != 0 || c.Late != 1 {
					t.Fatalf("counts %+v, want b queued and a done", c)
				}
				if q := ids(b.l.View().Queued(10)); !slices.Equal(q, []string{"b"}) {
					t.Fatalf("queue %v, want [b]", q)
				}
				// The plan made before the result came is refused; the
				// result stays the one recorded, and it goes upstream.
				b.refused(assign("a", "n1", 2), CodeIllegal)
				if out := b.do(lateDone(1)); len(out.Duplicates) != 1 || b.l.Counts().Duplicates != 1 {
					t.Fatalf("a second report of the late result was not a duplicate: %+v", out)
				}
				b.ok(Acked{At: 30, Tasks: []string{"a"}})
			})
		}
	}
}

// TestLateSuccessAfterReassign: once the task is assigned again, the old
// attempt is stale, whether or not the new one has started; and an attempt
// older than a requeued one is stale while the task is queued.
func TestLateSuccessAfterReassign(t *testing.T) {
	b := into(t, Running)
	b.ok(AgentLost{At: 10, Node: "n1"})
	b.ok(join("n1", "p1", 4, 4096))
	b.ok(assign("a", "n1", 2))
	r := b.refused(lateDone(1), CodeStaleAttempt)
	if r.Task != "a" || r.Cmd != CmdComplete {
		t.Fatalf("refusal %+v", r)
	}
	b.ok(started("a", 2))
	b.refused(lateDone(1), CodeStaleAttempt)
	if tk := b.task("a"); tk.State != Running || tk.Attempt != 2 || tk.Result != nil {
		t.Fatalf("a stale result changed the task: %+v", tk)
	}
	b.ok(fail("a", 2, FailInfra)) // attempt 2 requeued too
	b.refused(lateDone(1), CodeStaleAttempt)
	b.refused(lateDone(3), CodeStaleAttempt)
	if tk := b.task("a"); tk.State != Queued || tk.Attempt != 2 {
		t.Fatalf("a stale result changed the queued task: %+v", tk)
	}
	if c := b.l.Counts(); c.Late != 0 {
		t.Fatalf("refused late results counted: %+v", c)
	}
	b.ok(lateDone(2))
	if tk := b.task("a"); tk.State != Done || tk.Result.Attempts != 2 {
		t.Fatalf("the late result of attempt 2: %+v", tk)
	}
	// The count of late results survives a snapshot.
	r2 := New()
	if err := r2.Restore(bytes.NewReader(persist(t, b.l))); err != nil || r2.Counts() != b.l.Counts() {
		t.Fatalf("restored counts %+v (%v), want %+v", r2.Counts(), err, b.l.Counts())
	}
}

// TestLateFailureWhileQueued: a failure of the requeued attempt is refused
// and charges nothing; the task stays queued, its place kept, and the next
// attempt may still be assigned (or a late success recorded).
func TestLateFailureWhileQueued(t *testing.T) {
	b := into(t, Running)
	b.ok(ingest(spec("b", 1, 100)))
	b.ok(AgentLost{At: 10, Node: "n1"})
	before := b.task("a")
	r := b.refused(complete("a", 1, 3), CodeStaleAttempt)
	if r.Detail == "" || r.Task != "a" {
		t.Fatalf("refusal %+v says nothing", r)
	}
	b.refused(fail("a", 1, FailTask), CodeIllegal)
	b.refused(fail("a", 1, FailInfra), CodeIllegal)
	b.refused(started("a", 1), CodeIllegal)
	if tk := b.task("a"); tk.State != Queued || tk.TaskFailures != 0 || tk.InfraFailures != before.InfraFailures || tk.QueueSeq != before.QueueSeq || tk.Attempt != 1 {
		t.Fatalf("a refused late failure changed the task: %+v, was %+v", tk, before)
	}
	if q := ids(b.l.View().Queued(10)); !slices.Equal(q, []string{"b", "a"}) {
		t.Fatalf("queue %v, want [b a]", q)
	}
	b.ok(join("n1", "p1", 4, 4096))
	b.ok(assign("a", "n1", 2))
}

// TestLateSuccessValueLimit: a late result obeys the rules of any other.
func TestLateSuccessValueLimit(t *testing.T) {
	b := into(t, Running)
	b.ok(requeue("a", 1))
	big := lateDone(1)
	big.Items[0].Result.Value = make([]byte, task.MaxValueBytes+1)
	b.refused(big, CodeInvalid)
	if tk := b.task("a"); tk.State != Queued {
		t.Fatalf("an invalid late result changed the task: %+v", tk)
	}
}
