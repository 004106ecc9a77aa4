package ledger

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pilot-hpc/pilot/task"
)

func ids(ts []Task) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Spec.ID
	}
	return out
}

func TestFencingStaleAttempts(t *testing.T) {
	b := into(t, Running)
	b.ok(fail("a", 1, FailInfra)) // back to the queue
	b.ok(assign("a", "n1", 2))    // attempt 2
	b.refused(assign("a", "n1", 2), CodeIllegal)
	b.refused(started("a", 1), CodeStaleAttempt)
	b.refused(complete("a", 1, 0), CodeStaleAttempt)
	b.refused(fail("a", 1, FailTask), CodeStaleAttempt)
	b.refused(requeue("a", 1), CodeStaleAttempt)
	b.ok(complete("a", 2, 0))
	tk := b.task("a")
	if tk.State != Done || tk.Result.Attempts != 2 || tk.Result.Node != "n1" || tk.Result.State != task.StateDone || tk.InfraFailures != 1 {
		t.Fatalf("final record %+v %+v", tk, tk.Result)
	}
	// The first result wins.
	out := b.do(Complete{At: 9, Items: []Completion{{Task: "a", Attempt: 2, Result: task.Result{Value: []byte(`"other"`)}}}})
	if len(out.Duplicates) != 1 || string(b.task("a").Result.Value) != `{"shift":1.5}` {
		t.Fatalf("a second result replaced the first: %+v", out)
	}
}

func TestAssignAttemptMustBeNext(t *testing.T) {
	b := into(t, Queued)
	r := b.refused(assign("a", "n1", 2), CodeStaleAttempt)
	if !strings.Contains(r.Error(), "next attempt is 1") {
		t.Fatalf("refusal does not say what to do: %v", r)
	}
}

func TestMaxAttempts(t *testing.T) {
	b := into(t, Queued)
	for a := 1; a <= 3; a++ {
		b.ok(assign("a", "n1", a))
		b.ok(started("a", a))
		if a == 2 {
			b.ok(fail("a", a, FailInfra)) // infra: not charged
			b.ok(assign("a", "n1", a+1))
			a++
			b.ok(started("a", a))
		}
		b.ok(complete("a", a, 1)) // a non-zero exit is a task failure
	}
	tk := b.task("a")
	if tk.State != Queued || tk.TaskFailures != 2 || tk.InfraFailures != 1 {
		t.Fatalf("after 2 task and 1 infra failures: %+v", tk)
	}
	b.ok(assign("a", "n1", 4))
	out := b.ok(fail("a", 4, FailTask))
	tk = b.task("a")
	if tk.State != Failed || tk.Reason != ReasonMaxAttempts || !strings.HasPrefix(tk.Result.Error, "max-attempts: 3 of 3") || tk.Result.Attempts != 4 {
		t.Fatalf("want failed after max attempts: %+v %+v", tk, tk.Result)
	}
	if !reflect.DeepEqual(out.Final, []string{"a"}) {
		t.Fatalf("outcome final = %v", out.Final)
	}
}

func TestCompleteNonZeroKeepsReport(t *testing.T) {
	b := into(t, Running)
	b.ok(complete("a", 1, 2))
	b.ok(assign("a", "n1", 2))
	b.ok(complete("a", 2, 2))
	b.ok(assign("a", "n1", 3))
	b.ok(complete("a", 3, 7))
	tk := b.task("a")
	if tk.State != Failed || tk.Result.ExitCode != 7 || !strings.Contains(tk.Result.Error, "exit code 7") || string(tk.Result.Value) == "" {
		t.Fatalf("the failed record lost the attempt's report: %+v", tk.Result)
	}
}

func TestOversubscriptionRefused(t *testing.T) {
	b := newBook(t)
	b.ok(join("n1", "p1", 4, 1000))
	b.ok(join("n2", "p1", 4, 0)) // memory not accounted
	b.ok(ingest(spec("big", 3, 100), spec("mid", 2, 100), spec("fat", 1, 950), spec("wide", 5, 0)))
	b.ok(assign("big", "n1", 1))
	r := b.refused(assign("mid", "n1", 1), CodeOversubscribed)
	if !strings.Contains(r.Detail, "needs 2 cores, the node has 1 of 4 free") {
		t.Fatalf("detail: %s", r.Detail)
	}
	b.refused(assign("fat", "n1", 1), CodeOversubscribed)
	b.refused(assign("wide", "n2", 1), CodeOversubscribed)
	b.ok(assign("fat", "n2", 1))
	b.ok(assign("mid", "n2", 1))
	if n := b.node("n2"); n.UsedCores != 3 || n.UsedMemMB != 1050 || n.Tasks != 2 {
		t.Fatalf("node usage %+v", n)
	}
	// Finishing releases the cores.
	b.ok(complete("big", 1, 0))
	if n := b.node("n1"); n.UsedCores != 0 || n.Tasks != 0 {
		t.Fatalf("node usage after completion %+v", n)
	}
	// A rejoin may not shrink a node below what its tasks hold.
	b.refused(join("n2", "p1", 2, 0), CodeOversubscribed)
	b.ok(join("n2", "p1", 8, 0))
	if n := b.node("n2"); n.Cores != 8 || n.UsedCores != 3 {
		t.Fatalf("rejoined node %+v", n)
	}
}

func TestAssignRefusals(t *testing.T) {
	b := into(t, Queued)
	b.refused(assign("nope", "n1", 1), CodeUnknownTask)
	b.refused(assign("a", "n9", 1), CodeUnknownNode)
	b.refused(PilotDraining{At: 5, Pilot: "p9"}, CodeUnknownNode)
	b.ok(PilotDraining{At: 5, Pilot: "p1"})
	if !b.node("n1").Draining {
		t.Fatal("node not draining")
	}
	b.refused(assign("a", "n1", 1), CodeDraining)
}

func TestAgentLostRequeuesAndPoisonRule(t *testing.T) {
	b := newBook(t)
	for _, n := range []string{"n1", "n2", "n3"} {
		b.ok(join(n, "p1", 4, 0))
	}
	b.ok(ingest(spec("a", 1, 0), spec("b", 1, 0), spec("c", 1, 0)))
	b.ok(assign("a", "n1", 1))
	b.ok(assign("b", "n1", 1))
	b.ok(started("b", 1))
	b.ok(assign("c", "n2", 1))
	out := b.ok(AgentLost{At: 10, Node: "n1"})
	if !reflect.DeepEqual(out.Requeued, []string{"a", "b"}) {
		t.Fatalf("requeued %v", out.Requeued)
	}
	if _, ok := b.l.View().Node("n1"); ok {
		t.Fatal("lost node still in the ledger")
	}
	if q := ids(b.l.View().Queued(0)); !reflect.DeepEqual(q, []string{"a", "b"}) {
		t.Fatalf("queue %v", q)
	}
	if tk := b.task("a"); tk.Crashes != 0 || tk.InfraFailures != 1 || tk.TaskFailures != 0 {
		t.Fatalf("an assigned task was charged a crash: %+v", tk)
	}
	if tk := b.task("b"); tk.Crashes != 1 || tk.InfraFailures != 1 || tk.TaskFailures != 0 {
		t.Fatalf("counters %+v", tk)
	}
	b.ok(assign("b", "n3", 2))
	b.ok(started("b", 2))
	out = b.ok(AgentLost{At: 11, Node: "n3"})
	tk := b.task("b")
	if tk.State != Failed || tk.Reason != ReasonCrashedNodes || !reflect.DeepEqual(out.Final, []string{"b"}) {
		t.Fatalf("poison task not failed: %+v", tk)
	}
	if want := "crashed-nodes: the task was running on 2 nodes that died, the last n3"; !strings.HasPrefix(tk.Result.Error, want) {
		t.Fatalf("result error %q, want it to start %q", tk.Result.Error, want)
	}
	b.refused(AgentLost{At: 13, Node: "n3"}, CodeUnknownNode)
	// A late report from the dead node is fenced.
	b.refused(complete("c", 2, 0), CodeStaleAttempt)
}

// TestAgentLostBacklogNotCharged: a task assigned to nodes that die before
// it starts there waited in their backlogs: it is requeued every time,
// never failed as crashed-nodes, however many of them die.
func TestAgentLostBacklogNotCharged(t *testing.T) {
	b := newBook(t)
	b.ok(ingest(spec("a", 1, 0)))
	for i, n := range []string{"n1", "n2", "n3"} {
		b.ok(join(n, "p1", 4, 0))
		b.ok(assign("a", n, i+1))
		out := b.ok(AgentLost{At: int64(10 + i), Node: n})
		if !reflect.DeepEqual(out.Requeued, []string{"a"}) || len(out.Final) != 0 {
			t.Fatalf("loss %d of a node it waited on: %+v", i+1, out)
		}
		if tk := b.task("a"); tk.State != Queued || tk.Crashes != 0 || tk.InfraFailures != i+1 || tk.TaskFailures != 0 {
			t.Fatalf("after %d lost nodes: %+v", i+1, tk)
		}
	}
	// It still runs to its result.
	b.ok(join("n4", "p1", 4, 0))
	b.ok(assign("a", "n4", 4))
	b.ok(started("a", 4))
	b.ok(complete("a", 4, 0))
	if tk := b.task("a"); tk.State != Done || tk.Result.Attempts != 4 {
		t.Fatalf("final record %+v", tk)
	}
}

// TestAgentLostChargesOnlyRunningAttempts: one death while it waited and
// one while it ran is one crash, below the limit; the second death while
// running reaches it. The crash limit travels in the command.
func TestAgentLostChargesOnlyRunningAttempts(t *testing.T) {
	b := newBook(t)
	b.ok(ingest(spec("a", 1, 0)))
	b.ok(join("n0", "p1", 4, 0))
	b.ok(assign("a", "n0", 1))
	b.ok(requeue("a", 1)) // a first attempt that ended otherwise
	b.ok(join("n1", "p1", 4, 0))
	b.ok(assign("a", "n1", 2))
	b.ok(AgentLost{At: 10, Node: "n1"}) // waited: not charged
	b.ok(join("n2", "p1", 4, 0))
	b.ok(assign("a", "n2", 3))
	b.ok(started("a", 3))
	b.ok(AgentLost{At: 11, Node: "n2"}) // ran: one crash
	if tk := b.task("a"); tk.State != Queued || tk.Crashes != 1 || tk.FirstLost || tk.InfraFailures != 2 {
		t.Fatalf("after one death while waiting and one while running: %+v", tk)
	}
	b.ok(join("n3", "p1", 4, 0))
	b.ok(assign("a", "n3", 4))
	b.ok(started("a", 4))
	b.ok(AgentLost{At: 12, Node: "n3", CrashLimit: 3}) // two crashes, limit 3
	if tk := b.task("a"); tk.State != Queued || tk.Crashes != 2 {
		t.Fatalf("crash limit 3 not obeyed: %+v", tk)
	}
	b.ok(join("n4", "p1", 4, 0))
	b.ok(assign("a", "n4", 5))
	out := b.ok(AgentLost{At: 13, Node: "n4", CrashLimit: 3}) // waited: not charged
	if tk := b.task("a"); tk.State != Queued || tk.Crashes != 2 || len(out.Final) != 0 {
		t.Fatalf("an assigned attempt reached the crash limit: %+v", tk)
	}
	b.ok(join("n5", "p1", 4, 0))
	b.ok(assign("a", "n5", 6))
	b.ok(started("a", 6))
	b.ok(AgentLost{At: 14, Node: "n5", CrashLimit: 3})
	if tk := b.task("a"); tk.State != Failed || tk.Reason != ReasonCrashedNodes || tk.Crashes != 3 || tk.Result.Attempts != 6 {
		t.Fatalf("want failed crashed-nodes after 3 crashes: %+v", tk)
	}
}

// TestAgentLostFirstAttemptMayHaveRun: an agent starts a first attempt
// without waiting for its Started to commit, so a task that kills its node
// at once is lost while assigned, and the leader names it as one that may
// have run. Its retry waits for Started and is charged: two node losses
// fail it, as for a task seen running twice. A task that only waited in
// backlogs, first attempt included, is never failed.
func TestAgentLostFirstAttemptMayHaveRun(t *testing.T) {
	b := newBook(t)
	b.ok(ingest(spec("poison", 1, 0), spec("innocent", 1, 0)))
	b.ok(join("n1", "p1", 4, 0))
	b.ok(assign("poison", "n1", 1))
	b.ok(assign("innocent", "n1", 1))
	b.ok(AgentLost{At: 10, Node: "n1", MayHaveRun: []string{"poison"}}) // neither was recorded running
	for id, want := range map[string]bool{"poison": true, "innocent": false} {
		if tk := b.task(id); tk.State != Queued || tk.Crashes != 0 || tk.FirstLost != want {
			t.Fatalf("%s after its first attempt's node died: %+v", id, tk)
		}
	}
	b.ok(join("n2", "p1", 4, 0))
	b.ok(assign("poison", "n2", 2))
	b.ok(started("poison", 2))
	b.ok(assign("innocent", "n2", 2))
	b.ok(started("innocent", 2))
	out := b.ok(AgentLost{At: 11, Node: "n2"})
	if tk := b.task("poison"); tk.State != Failed || tk.Reason != ReasonCrashedNodes || !reflect.DeepEqual(out.Final, []string{"poison"}) {
		t.Fatalf("a task lost at its first attempt and then running on a dying node: %+v", tk)
	}
	if tk := b.task("innocent"); tk.State != Queued || tk.Crashes != 1 {
		t.Fatalf("a task that waited on one dying node and ran on another: %+v, want queued with one crash", tk)
	}
}

func TestQueueOrder(t *testing.T) {
	b := newBook(t)
	b.ok(join("n1", "p1", 8, 0))
	b.ok(ingest(spec("c", 1, 0), spec("a", 1, 0), spec("b", 1, 0)))
	b.ok(ingest(spec("d", 1, 0)))
	b.ok(assign("a", "n1", 1))
	b.ok(requeue("a", 1))
	if q := ids(b.l.View().Queued(0)); !reflect.DeepEqual(q, []string{"c", "b", "d", "a"}) {
		t.Fatalf("queue order %v", q)
	}
	if q := ids(b.l.View().Queued(2)); !reflect.DeepEqual(q, []string{"c", "b"}) {
		t.Fatalf("first two %v", q)
	}
	b.ok(assign("b", "n1", 1))
	b.ok(assign("d", "n1", 1))
	b.ok(started("d", 1))
	v := b.l.View()
	if got := ids(v.InState(Assigned)); !reflect.DeepEqual(got, []string{"b"}) {
		t.Fatalf("assigned %v", got)
	}
	if got := ids(v.OnNode("n1")); !reflect.DeepEqual(got, []string{"b", "d"}) {
		t.Fatalf("on n1 %v", got)
	}
	c := v.Counts()
	if c.Queued != 2 || c.Assigned != 1 || c.Running != 1 || c.Nodes != 1 || c.Tasks() != 4 {
		t.Fatalf("counts %+v", c)
	}
}

func TestIngestRefusals(t *testing.T) {
	b := into(t, Queued)
	b.refused(ingest(spec("a", 1, 0)), CodeDuplicateTask)
	b.refused(ingest(task.Spec{ID: "../x", Cmd: []string{"x"}}), CodeInvalid)
	out := b.ok(ingest(task.Spec{ID: "d", Fn: "f"}))
	if out.Applied != 1 {
		t.Fatalf("applied %d", out.Applied)
	}
	if s := b.task("d").Spec; s.Cores != 1 || s.MaxAttempts != task.DefaultAttempt {
		t.Fatalf("defaults not applied: %+v", s)
	}
	if b.task("a").Lease != "lease-a" {
		t.Fatal("lease id lost")
	}
}

func TestValueLimit(t *testing.T) {
	b := into(t, Running)
	big := Complete{At: 5, Items: []Completion{{Task: "a", Attempt: 1, Result: task.Result{Value: bytes.Repeat([]byte("x"), task.MaxValueBytes+1)}}}}
	b.refused(big, CodeInvalid)
}

func TestAckedRemoves(t *testing.T) {
	b := into(t, Done)
	b.ok(Acked{At: 9, Tasks: []string{"a"}})
	b.refused(Acked{At: 9, Tasks: []string{"a"}}, CodeUnknownTask)
	b.refused(complete("a", 1, 0), CodeUnknownTask)
	if c := b.l.Counts(); c.Tasks() != 0 {
		t.Fatalf("counts %+v", c)
	}
}

func TestFlush(t *testing.T) {
	b := newBook(t)
	b.ok(join("n1", "p1", 8, 0))
	b.ok(ingest(spec("q2", 1, 0), spec("q1", 1, 0), spec("as", 1, 0), spec("ru", 1, 0), spec("dn", 1, 0)))
	b.ok(assign("as", "n1", 1))
	b.ok(assign("ru", "n1", 1))
	b.ok(started("ru", 1))
	b.ok(assign("dn", "n1", 1))
	b.ok(complete("dn", 1, 0))
	out := b.ok(Flush{At: 9})
	if !reflect.DeepEqual(out.Dropped, []string{"as", "q1", "q2"}) {
		t.Fatalf("dropped %v", out.Dropped)
	}
	c := b.l.Counts()
	if c.Queued != 0 || c.Assigned != 0 || c.Running != 1 || c.Done != 1 {
		t.Fatalf("counts after flush %+v", c)
	}
	b.refused(complete("as", 1, 0), CodeUnknownTask)
	out = b.ok(Flush{At: 10, Running: true})
	if !reflect.DeepEqual(out.Dropped, []string{"ru"}) || b.node("n1").UsedCores != 0 {
		t.Fatalf("dropped %v, node %+v", out.Dropped, b.node("n1"))
	}
}

func TestBatch(t *testing.T) {
	b := newBook(t)
	out := b.ok(Batch{Cmds: []Command{
		join("n1", "p1", 2, 0),
		ingest(spec("a", 1, 0), spec("b", 1, 0)),
		Assign{At: 3, Items: []Assignment{{Task: "a", Node: "n1", Attempt: 1}, {Task: "b", Node: "n1", Attempt: 1}}},
		Started{At: 4, Items: []AttemptRef{{Task: "a", Attempt: 1}, {Task: "b", Attempt: 1}}},
		Complete{At: 5, Items: []Completion{{Task: "a", Attempt: 1}, {Task: "b", Attempt: 1}}},
	}})
	if out.Applied != 9 || !reflect.DeepEqual(out.Final, []string{"a", "b"}) {
		t.Fatalf("batch outcome %+v", out)
	}
	if _, err := Encode(Batch{Cmds: []Command{Batch{}}}); err == nil {
		t.Fatal("a nested batch encoded")
	}
	out = b.l.ApplyCommand(b.index+1, Batch{Cmds: []Command{Batch{}}})
	if len(out.Refused) != 1 || out.Refused[0].Code != CodeInvalid {
		t.Fatalf("nested batch applied: %+v", out)
	}
}

func TestCorruptEntryPanics(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":        nil,
		"unknown type": {200, 0x80},
		"bad body":     {byte(CmdAssign), 0xc1},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), "log entry 7") {
					t.Fatalf("recovered %v, want a panic naming the entry", r)
				}
			}()
			New().Apply(7, data)
		})
	}
	if _, err := Decode([]byte{byte(CmdAssign), 0xc1}); !errors.Is(err, ErrDecode) {
		t.Fatalf("decode error %v", err)
	}
}

func TestRestoreDiscardsPriorState(t *testing.T) {
	src := into(t, Running)
	var snap bytes.Buffer
	if err := src.l.Snapshot().Persist(&snap); err != nil {
		t.Fatal(err)
	}
	dst := into(t, Done)
	dst.ok(ingest(spec("other", 1, 0)))
	if err := dst.l.Restore(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	if dst.l.Hash() != src.l.Hash() || dst.l.Applied() != src.l.Applied() {
		t.Fatal("restored ledger differs from its source")
	}
	if _, ok := dst.l.View().Task("other"); ok {
		t.Fatal("restore kept a prior task")
	}
	if err := dst.l.Restore(bytes.NewReader(snap.Bytes()[:snap.Len()/2])); err == nil {
		t.Fatal("a truncated snapshot restored")
	}
	if dst.l.Hash() != src.l.Hash() {
		t.Fatal("a failed restore changed the state")
	}
}

func TestViewIsStable(t *testing.T) {
	b := into(t, Assigned)
	v := b.l.View()
	snap := b.l.Snapshot()
	h := v.Hash()
	b.ok(complete("a", 1, 0))
	b.ok(Acked{At: 9, Tasks: []string{"a"}})
	if tk, ok := v.Task("a"); !ok || tk.State != Assigned || v.Hash() != h || snap.Applied() != v.Applied() {
		t.Fatal("an old view changed under a later Apply")
	}
}

func TestRejoinInANewPilotStopsDraining(t *testing.T) {
	b := newBook(t)
	b.ok(join("n1", "p1", 4, 0))
	b.ok(PilotDraining{At: 3, Pilot: "p1"})
	b.ok(join("n1", "p1", 4, 0))
	if !b.node("n1").Draining {
		t.Fatal("a rejoin in the same pilot stopped draining")
	}
	b.ok(join("n1", "p2", 4, 0))
	if n := b.node("n1"); n.Draining || n.Pilot != "p2" {
		t.Fatalf("a node in a new pilot: %+v", n)
	}
}
