package ledger

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/pilot-hpc/pilot/task"
	"pgregory.net/rapid"
)

var (
	propTasks = []string{"t0", "t1", "t2", "t3", "t4", "t5", "t6"}
	propNodes = []string{"n0", "n1", "n2"}
	propPilot = []string{"p0", "p1"}
)

// genCommand draws one command. Most are the next step of an existing
// task's life, so sequences go deep (results, retries, crashes); the rest
// are anything at all, to try every stale and illegal report.
func genCommand(t *rapid.T, v View, at int64) Command {
	if rapid.IntRange(0, 9).Draw(t, "sensible?") < 6 {
		if c := genNextStep(t, v, at); c != nil {
			return c
		}
	}
	return genAnyCommand(t, v, at)
}

// genNextStep draws a likely next step of a task the ledger holds, or nil.
func genNextStep(t *rapid.T, v View, at int64) Command {
	var held []Task
	for _, id := range propTasks {
		if tk, ok := v.Task(id); ok {
			held = append(held, tk)
		}
	}
	nodes := v.Nodes()
	if len(held) == 0 || len(nodes) == 0 {
		return nil
	}
	tk := rapid.SampledFrom(held).Draw(t, "held task")
	id, a := tk.Spec.ID, tk.Attempt
	switch tk.State {
	case Queued:
		if a > 0 && rapid.IntRange(0, 3).Draw(t, "late?") == 0 {
			// The requeued attempt reports after all.
			exit := rapid.SampledFrom([]int{0, 0, 1}).Draw(t, "late exit")
			return Complete{At: at, Items: []Completion{{Task: id, Attempt: a, Result: task.Result{ExitCode: exit, Value: []byte(`4`)}}}}
		}
		n := rapid.SampledFrom(nodes).Draw(t, "to node")
		return Assign{At: at, Items: []Assignment{{Task: id, Node: n.ID, Attempt: a + 1}}}
	case Assigned, Running:
		switch rapid.IntRange(0, 5).Draw(t, "next") {
		case 0, 1:
			if tk.State == Assigned {
				return Started{At: at, Items: []AttemptRef{{Task: id, Attempt: a}}}
			}
			fallthrough
		case 2:
			return Complete{At: at, Items: []Completion{{Task: id, Attempt: a, Result: task.Result{Value: []byte(`2`)}}}}
		case 3:
			return Fail{At: at, Items: []Failure{{Task: id, Attempt: a, Class: FailTask, Error: "e"}}}
		case 4:
			return Requeue{At: at, Items: []AttemptRef{{Task: id, Attempt: a}}}
		default:
			return AgentLost{At: at, Node: tk.Node}
		}
	default:
		if rapid.Bool().Draw(t, "dup?") {
			return Complete{At: at, Items: []Completion{{Task: id, Attempt: a, Result: task.Result{Value: []byte(`3`)}}}}
		}
		return Acked{At: at, Tasks: []string{id}}
	}
}

// genAnyCommand draws any command about any task or node.
func genAnyCommand(t *rapid.T, v View, at int64) Command {
	id := rapid.SampledFrom(propTasks).Draw(t, "task")
	node := rapid.SampledFrom(propNodes).Draw(t, "node")
	cur := 0
	if tk, ok := v.Task(id); ok {
		cur = tk.Attempt
	}
	att := rapid.SampledFrom([]int{cur, cur, cur, cur - 1, cur + 1}).Draw(t, "attempt")
	switch rapid.IntRange(0, 12).Draw(t, "kind") {
	case 0, 1:
		s := task.Spec{ID: id, Cmd: []string{"run"}, Cores: rapid.IntRange(1, 3).Draw(t, "cores"),
			MemMB: rapid.Int64Range(0, 600).Draw(t, "mem"), MaxAttempts: rapid.IntRange(1, 3).Draw(t, "max"),
			Env: map[string]string{"B": "2", "A": id}}
		return Ingest{At: at, Tasks: []Leased{{Spec: s, Lease: "l-" + id}}}
	case 2, 3:
		return Assign{At: at, Items: []Assignment{{Task: id, Node: node, Attempt: att + 1}}}
	case 4:
		return Started{At: at, Items: []AttemptRef{{Task: id, Attempt: att}}}
	case 5:
		exit := rapid.SampledFrom([]int{0, 0, 1}).Draw(t, "exit")
		return Complete{At: at, Items: []Completion{{Task: id, Attempt: att, Result: task.Result{ExitCode: exit, Value: []byte(`1`)}}}}
	case 6:
		class := rapid.SampledFrom([]FailClass{FailTask, FailInfra, FailFatal, "bogus"}).Draw(t, "class")
		return Fail{At: at, Items: []Failure{{Task: id, Attempt: att, Class: class, Error: "e"}}}
	case 7:
		return Requeue{At: at, Items: []AttemptRef{{Task: id, Attempt: att}}}
	case 8:
		return AgentJoined{At: at, Node: NodeInfo{ID: node, Cores: rapid.IntRange(1, 6).Draw(t, "ncores"),
			MemMB: rapid.SampledFrom([]int64{0, 1000}).Draw(t, "nmem"), Pilot: rapid.SampledFrom(propPilot).Draw(t, "pilot")}}
	case 9:
		var may []string
		for _, id := range propTasks {
			if rapid.Bool().Draw(t, "may-have-run "+id) {
				may = append(may, id)
			}
		}
		return AgentLost{At: at, Node: node, CrashLimit: rapid.IntRange(0, 3).Draw(t, "limit"), MayHaveRun: may}
	case 10:
		return PilotDraining{At: at, Pilot: rapid.SampledFrom(propPilot).Draw(t, "pilot")}
	case 11:
		return Acked{At: at, Tasks: []string{id}}
	default:
		if rapid.IntRange(0, 3).Draw(t, "flush?") == 0 {
			return Flush{At: at, Running: rapid.Bool().Draw(t, "running")}
		}
		return Acked{At: at, Tasks: []string{id}}
	}
}

// genEntry draws one log entry: a command, or a batch of a few.
func genEntry(t *rapid.T, v View, at int64) Command {
	if rapid.IntRange(0, 4).Draw(t, "batch?") > 0 {
		return genCommand(t, v, at)
	}
	n := rapid.IntRange(1, 4).Draw(t, "batch size")
	b := Batch{}
	for i := 0; i < n; i++ {
		b.Cmds = append(b.Cmds, genCommand(t, v, at))
	}
	return b
}

// TestPropertyInvariants: random command sequences keep every invariant;
// nothing is lost (a task leaves only by Acked or Flush); a recorded result
// never changes and is recorded once; no task is done but by a successful
// Complete of its current attempt (checkResults); a batch does what its
// commands do one by one.
func TestPropertyInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		l, single := New(), New()
		alive := map[string]bool{}
		results := map[string]*task.Result{}
		steps := rapid.IntRange(1, 80).Draw(t, "steps")
		for i := 1; i <= steps; i++ {
			cmd := genEntry(t, l.View(), int64(i))
			data, err := Encode(cmd)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			l.Apply(uint64(i), data)
			if err := l.CheckInvariants(); err != nil {
				t.Fatalf("step %d (%s): %v", i, cmd.Type(), err)
			}
			// The same commands one at a time, watching what leaves.
			gone := map[string]bool{}
			for _, c := range flatten(cmd) {
				before := single.View()
				out := single.ApplyCommand(uint64(i), c)
				if lost, ok := c.(AgentLost); ok {
					checkCrashCharge(t, lost, before, single.View())
				}
				checkResults(t, c, out, before, single.View())
				for _, id := range out.Dropped {
					gone[id] = true
				}
				if a, ok := c.(Acked); ok {
					for _, id := range a.Tasks {
						if tk, ok := before.Task(id); ok && tk.State.Final() {
							gone[id] = true
						}
					}
				}
			}
			if !bytes.Equal(persist(t, l), persist(t, single)) {
				t.Fatalf("step %d: the batch differs from its commands applied one by one", i)
			}
			v := l.View()
			for _, id := range propTasks {
				tk, ok := v.Task(id)
				switch {
				case alive[id] && !ok && !gone[id]:
					t.Fatalf("step %d: task %s vanished", i, id)
				case !ok:
					delete(alive, id)
					delete(results, id)
					continue
				}
				alive[id] = true
				if gone[id] {
					delete(results, id) // acked or flushed, then ingested anew
				}
				if r, had := results[id]; had && (tk.Result == nil || !reflect.DeepEqual(*r, *tk.Result)) {
					t.Fatalf("step %d: the result of %s changed from %+v to %+v", i, id, r, tk.Result)
				}
				if tk.Result != nil {
					results[id] = tk.Result
				}
			}
		}
	})
}

// checkCrashCharge: AgentLost charges a crash to the tasks that ran on the
// lost node and to no other; only a charged task fails crashed-nodes, and
// only once its crashes reach the limit.
func checkCrashCharge(t *rapid.T, c AgentLost, before, after View) {
	limit := c.CrashLimit
	if limit <= 0 {
		limit = DefaultCrashLimit
	}
	for _, id := range propTasks {
		b, had := before.Task(id)
		a, has := after.Task(id)
		if !had || !has {
			continue
		}
		onLost := b.Node == c.Node && (b.State == Assigned || b.State == Running)
		want := b.Crashes
		if onLost && b.State == Running {
			want++
		}
		if a.Crashes != want {
			t.Fatalf("AgentLost %s: task %s (%s on %s) has %d crashes, want %d", c.Node, id, b.State, b.Node, a.Crashes, want)
		}
		if wantFirst := b.FirstLost || (onLost && b.State == Assigned && b.Attempt == 1 && slices.Contains(c.MayHaveRun, id)); a.FirstLost != wantFirst {
			t.Fatalf("AgentLost %s: task %s (%s on %s, attempt %d) has FirstLost %v, want %v", c.Node, id, b.State, b.Node, b.Attempt, a.FirstLost, wantFirst)
		}
		held := want
		if a.FirstLost && want > 0 {
			held++
		}
		failed := a.State == Failed && a.Reason == ReasonCrashedNodes
		if failed != (onLost && b.State == Running && held >= limit) && b.State != Failed {
			t.Fatalf("AgentLost %s (limit %d): task %s was %s on %s with %d crashes, is now %s (%s)", c.Node, limit, id, b.State, b.Node, b.Crashes, a.State, a.Reason)
		}
		if onLost && !failed && a.State != Queued {
			t.Fatalf("AgentLost %s: task %s was %s there, is now %s, want queued", c.Node, id, b.State, a.State)
		}
	}
}

// checkResults: a task's result is recorded once (Outcome.Final names a
// task only as it becomes final, once), and a task becomes done only by a
// successful Complete of its current attempt, an attempt it was assigned:
// from assigned or running, or from queued when that attempt was requeued
// (a late result, which the outcome names in Late). A done task's result
// names that attempt.
func checkResults(t *rapid.T, c Command, out *Outcome, before, after View) {
	for i, id := range out.Final {
		if b, had := before.Task(id); had && b.State.Final() {
			t.Fatalf("%s: task %s was %s already and became final again", c.Type(), id, b.State)
		}
		if slices.Contains(out.Final[i+1:], id) {
			t.Fatalf("%s: task %s became final twice in one command", c.Type(), id)
		}
	}
	for _, id := range propTasks {
		a, has := after.Task(id)
		if !has || a.State != Done {
			continue
		}
		if a.Result.Attempts != a.Attempt || a.Attempt < 1 {
			t.Fatalf("%s: task %s is done at attempt %d with the result of attempt %d", c.Type(), id, a.Attempt, a.Result.Attempts)
		}
		b, had := before.Task(id)
		if had && b.State == Done {
			continue
		}
		if !slices.Contains(out.Final, id) {
			t.Fatalf("%s: task %s became done but the outcome does not name it final", c.Type(), id)
		}
		cmp, ok := c.(Complete)
		if !ok || !had {
			t.Fatalf("%s: task %s became done without a Complete", c.Type(), id)
		}
		ok = false
		for _, r := range cmp.Items {
			ok = ok || (r.Task == id && r.Attempt == b.Attempt && r.Result.ExitCode == 0)
		}
		if !ok || a.Attempt != b.Attempt {
			t.Fatalf("Complete %+v: task %s (%s, attempt %d) became done without a success of its current attempt", cmp.Items, id, b.State, b.Attempt)
		}
		if late := slices.Contains(out.Late, id); late != (b.State == Queued) {
			t.Fatalf("Complete: task %s became done from %s; the outcome names it late: %v", id, b.State, late)
		}
	}
	for _, id := range out.Late {
		if a, has := after.Task(id); !has || a.State != Done {
			t.Fatalf("%s: task %s is named late but is not done", c.Type(), id)
		}
	}
}

func flatten(c Command) []Command {
	if b, ok := c.(Batch); ok {
		return b.Cmds
	}
	return []Command{c}
}

// TestPropertySnapshotRoundTrip: snapshot → restore → snapshot gives
// identical bytes, and the restored ledger goes on exactly like the source.
func TestPropertySnapshotRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		src := New()
		var log [][]byte
		steps := rapid.IntRange(0, 60).Draw(t, "steps")
		cut := rapid.IntRange(0, steps).Draw(t, "cut")
		var restored *Ledger
		for i := 1; i <= steps; i++ {
			data, err := Encode(genEntry(t, src.View(), int64(i)))
			if err != nil {
				t.Fatal(err)
			}
			log = append(log, data)
			src.Apply(uint64(i), data)
			if i == cut {
				restored = roundTrip(t, src)
			}
		}
		if restored == nil {
			restored = roundTrip(t, src)
		}
		for i := cut + 1; i <= steps && cut > 0; i++ {
			restored.Apply(uint64(i), log[i-1])
		}
		if a, b := persist(t, src), persist(t, restored); !bytes.Equal(a, b) {
			t.Fatalf("a ledger restored at %d and fed the rest differs from its source", cut)
		}
	})
}

func persist(t interface{ Fatalf(string, ...any) }, l *Ledger) []byte {
	var buf bytes.Buffer
	if err := l.Snapshot().Persist(&buf); err != nil {
		t.Fatalf("persist: %v", err)
	}
	return buf.Bytes()
}

func roundTrip(t *rapid.T, l *Ledger) *Ledger {
	first := persist(t, l)
	r := New()
	r.ApplyCommand(1, Ingest{At: 1, Tasks: []Leased{{Spec: task.Spec{ID: "junk", Cmd: []string{"x"}}}}})
	if err := r.Restore(bytes.NewReader(first)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if second := persist(t, r); !bytes.Equal(first, second) {
		t.Fatalf("snapshot → restore → snapshot differs (%d vs %d bytes)", len(first), len(second))
	}
	if err := r.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPropertyReplicasAgree: two ledgers fed the same log end identical,
// outcome for outcome.
func TestPropertyReplicasAgree(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := New(), New()
		steps := rapid.IntRange(1, 60).Draw(t, "steps")
		for i := 1; i <= steps; i++ {
			data, err := Encode(genEntry(t, a.View(), int64(i)))
			if err != nil {
				t.Fatal(err)
			}
			oa, ob := a.Apply(uint64(i), data), b.Apply(uint64(i), bytes.Clone(data))
			if !reflect.DeepEqual(oa, ob) {
				t.Fatalf("step %d: outcomes differ:\n%+v\n%+v", i, oa, ob)
			}
		}
		if a.Hash() != b.Hash() {
			t.Fatal("two replicas fed one log differ")
		}
	})
}

func ExampleEncode() {
	data, _ := Encode(Assign{At: 1, Items: []Assignment{{Task: "mol-1", Node: "nid001", Attempt: 1}}})
	cmd, _ := Decode(data)
	fmt.Println(data[0] == byte(CmdAssign), cmd.(Assign).Items[0].Node)
	// Output: true nid001
}
