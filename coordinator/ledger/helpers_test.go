package ledger

import (
	"errors"
	"testing"

	"github.com/pilot-hpc/pilot/task"
)

// book is a ledger under test: every step goes through Encode and Apply
// (so the codec is exercised too) and is followed by CheckInvariants.
type book struct {
	t     *testing.T
	l     *Ledger
	index uint64
}

func newBook(t *testing.T) *book {
	t.Helper()
	return &book{t: t, l: New()}
}

func (b *book) do(cmd Command) *Outcome {
	b.t.Helper()
	data, err := Encode(cmd)
	if err != nil {
		b.t.Fatalf("encode %s: %v", cmd.Type(), err)
	}
	b.index++
	out := b.l.Apply(b.index, data)
	if err := b.l.CheckInvariants(); err != nil {
		b.t.Fatalf("after %s at index %d: %v", cmd.Type(), b.index, err)
	}
	if out.Index != b.index || b.l.Applied() != b.index {
		b.t.Fatalf("outcome index %d, applied %d, want %d", out.Index, b.l.Applied(), b.index)
	}
	return out
}

// ok applies a command that must be accepted whole.
func (b *book) ok(cmd Command) *Outcome {
	b.t.Helper()
	out := b.do(cmd)
	if err := out.Err(); err != nil {
		b.t.Fatalf("%s refused: %v", cmd.Type(), err)
	}
	return out
}

// refused applies a command that must be refused with code.
func (b *book) refused(cmd Command, code Code) Refusal {
	b.t.Helper()
	out := b.do(cmd)
	if len(out.Refused) != 1 || out.Refused[0].Code != code {
		b.t.Fatalf("%s: refusals %+v, want one %s", cmd.Type(), out.Refused, code)
	}
	if !errors.Is(out.Err(), code.Err()) {
		b.t.Fatalf("%s: error %v does not match %v", cmd.Type(), out.Err(), code.Err())
	}
	return out.Refused[0]
}

func (b *book) task(id string) Task {
	b.t.Helper()
	t, ok := b.l.View().Task(id)
	if !ok {
		b.t.Fatalf("task %q not in the ledger", id)
	}
	return t
}

func (b *book) node(id string) Node {
	b.t.Helper()
	n, ok := b.l.View().Node(id)
	if !ok {
		b.t.Fatalf("node %q not in the ledger", id)
	}
	return n
}

func spec(id string, cores int, memMB int64) task.Spec {
	return task.Spec{ID: id, Cmd: []string{"run", id}, Cores: cores, MemMB: memMB, MaxAttempts: 3}
}

func ingest(specs ...task.Spec) Ingest {
	c := Ingest{At: 1}
	for _, s := range specs {
		c.Tasks = append(c.Tasks, Leased{Spec: s, Lease: "lease-" + s.ID})
	}
	return c
}

func join(id, pilot string, cores int, memMB int64) AgentJoined {
	return AgentJoined{At: 2, Node: NodeInfo{ID: id, Cores: cores, MemMB: memMB, Pilot: pilot, PilotEnd: 1e18, Addr: "127.0.0.1:1"}}
}

func assign(id, node string, attempt int) Assign {
	return Assign{At: 3, Items: []Assignment{{Task: id, Node: node, Attempt: attempt}}}
}

func started(id string, attempt int) Started {
	return Started{At: 4, Items: []AttemptRef{{Task: id, Attempt: attempt}}}
}

func complete(id string, attempt, exit int) Complete {
	return Complete{At: 5, Items: []Completion{{Task: id, Attempt: attempt, Result: task.Result{ExitCode: exit, RuntimeS: 1, Value: []byte(`{"shift":1.5}`)}}}}
}

func fail(id string, attempt int, class FailClass) Fail {
	return Fail{At: 6, Items: []Failure{{Task: id, Attempt: attempt, Class: class, Error: "boom"}}}
}

func requeue(id string, attempt int) Requeue {
	return Requeue{At: 7, Items: []AttemptRef{{Task: id, Attempt: attempt}}}
}

// into builds a ledger with node n1 (4 cores, 4096 MB, pilot p1) and task
// "a" (1 core, 100 MB) brought into state s by legal steps, at attempt 1
// unless queued.
func into(t *testing.T, s State) *book {
	t.Helper()
	b := newBook(t)
	b.ok(join("n1", "p1", 4, 4096))
	b.ok(ingest(spec("a", 1, 100)))
	switch s {
	case Assigned:
		b.ok(assign("a", "n1", 1))
	case Running:
		b.ok(assign("a", "n1", 1))
		b.ok(started("a", 1))
	case Done:
		b.ok(assign("a", "n1", 1))
		b.ok(complete("a", 1, 0))
	case Failed:
		b.ok(Fail{At: 6, Items: []Failure{{Task: "a", Attempt: 0, Class: FailFatal, Error: "fits no node"}}})
	}
	if got := b.task("a").State; got != s {
		t.Fatalf("setup: task is %s, want %s", got, s)
	}
	return b
}
