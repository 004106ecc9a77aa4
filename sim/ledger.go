package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/coordinator/sched"
)

// book is the simulator's one door to the ledger: every change is a real
// command, encoded and applied by the real ledger.Apply, and every read
// goes through a ledger View. Any refusal is a bug (the simulator only
// proposes what the scheduler planned against the current state), so it
// is returned as an error.
//
// After every entry it checks the ledger's invariants: the full
// CheckInvariants (a walk of the whole state) after every fullEvery-th
// entry, and after every other one CheckTouched over what the entry
// touched (the tasks its commands name, the nodes they name or those
// tasks were on, and the tasks on a node it removes), plus the counts
// against the indexes. Run checks the whole state once more at the end.
type book struct {
	l             *ledger.Ledger
	index         uint64
	fullEvery     int
	steps         int
	checks        int // full checks
	touchedChecks int
	// What the entry being applied touches; reused from entry to entry.
	tasks, nodes []string
	unknown      bool // a command touch cannot list: check everything
}

func newBook(fullEvery int) *book {
	return &book{l: ledger.New(), fullEvery: fullEvery}
}

// apply proposes cmds as one log entry (a batch when more than one) and
// checks the invariants.
func (b *book) apply(cmds ...ledger.Command) (*ledger.Outcome, error) {
	if len(cmds) == 0 {
		return &ledger.Outcome{}, nil
	}
	cmd := cmds[0]
	if len(cmds) > 1 {
		cmd = ledger.Batch{Cmds: cmds}
	}
	data, err := ledger.Encode(cmd)
	if err != nil {
		return nil, err
	}
	b.touch(cmds)
	b.index++
	out := b.l.Apply(b.index, data)
	if err := out.Err(); err != nil {
		return out, fmt.Errorf("ledger entry %d refused: %w", b.index, err)
	}
	b.steps++
	if b.unknown || (b.fullEvery > 0 && b.steps%b.fullEvery == 0) {
		return out, b.check()
	}
	b.touchedChecks++
	if err := b.l.View().CheckTouched(b.tasks, b.nodes); err != nil {
		return out, fmt.Errorf("ledger invariants broken after entry %d (checked for the tasks and nodes it touched): %w", b.index, err)
	}
	return out, nil
}

// touch lists what cmds touch, read before they are applied: the tasks
// they name and the nodes those tasks are on, the nodes they name, and
// the tasks on a node they remove.
func (b *book) touch(cmds []ledger.Command) {
	v := b.l.View()
	b.tasks, b.nodes, b.unknown = b.tasks[:0], b.nodes[:0], false
	task := func(id string) {
		b.tasks = append(b.tasks, id)
		if t, ok := v.Task(id); ok && t.Node != "" {
			b.nodes = append(b.nodes, t.Node)
		}
	}
	for _, c := range cmds {
		switch c := c.(type) {
		case ledger.Complete:
			for _, it := range c.Items {
				task(it.Task)
			}
		case ledger.Fail:
			for _, it := range c.Items {
				task(it.Task)
			}
		case ledger.Assign:
			for _, it := range c.Items {
				task(it.Task)
				b.nodes = append(b.nodes, it.Node)
			}
		case ledger.Started:
			for _, it := range c.Items {
				task(it.Task)
			}
		case ledger.Ingest:
			for _, t := range c.Tasks {
				b.tasks = append(b.tasks, t.Spec.ID)
			}
		case ledger.Acked:
			b.tasks = append(b.tasks, c.Tasks...) // final: on no node
		case ledger.AgentJoined:
			b.nodes = append(b.nodes, c.Node.ID)
		case ledger.AgentLost:
			b.nodes = append(b.nodes, c.Node)
			for _, t := range v.OnNode(c.Node) {
				b.tasks = append(b.tasks, t.Spec.ID)
			}
		default:
			b.unknown = true
		}
	}
}

func (b *book) check() error {
	b.checks++
	if err := b.l.CheckInvariants(); err != nil {
		return fmt.Errorf("ledger invariants broken after entry %d: %w", b.index, err)
	}
	return nil
}

func (b *book) view() ledger.View { return b.l.View() }

// schedNodes turns the ledger's nodes into the scheduler's view of them;
// busyUntil says when a node's running tasks are expected to end. A node
// whose memory the ledger does not account (MemMB 0) has no memory limit
// for the scheduler either.
func schedNodes(v ledger.View, busyUntil func(node string) time.Time) []sched.Node {
	ns := v.Nodes()
	out := make([]sched.Node, len(ns))
	for i, n := range ns {
		total, free := n.MemMB, n.FreeMemMB()
		if n.MemMB == 0 {
			total, free = math.MaxInt64, math.MaxInt64
		}
		out[i] = sched.Node{
			ID: n.ID, TotalCores: n.Cores, FreeCores: n.FreeCores(),
			TotalMemMB: total, FreeMemMB: free,
			Pilot: n.Pilot, PilotEnd: time.Unix(0, n.PilotEnd), Draining: n.Draining,
			BusyUntil: busyUntil(n.ID),
		}
	}
	return out
}
