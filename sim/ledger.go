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
type book struct {
	l          *ledger.Ledger
	index      uint64
	checkEvery int
	steps      int
	checks     int
}

func newBook(checkEvery int) *book {
	return &book{l: ledger.New(), checkEvery: checkEvery}
}

// apply proposes cmds as one log entry (a batch when more than one) and
// checks the invariants when it is their turn.
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
	b.index++
	out := b.l.Apply(b.index, data)
	if err := out.Err(); err != nil {
		return out, fmt.Errorf("ledger entry %d refused: %w", b.index, err)
	}
	b.steps++
	if b.checkEvery > 0 && b.steps%b.checkEvery == 0 {
		if err := b.check(); err != nil {
			return out, err
		}
	}
	return out, nil
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
			PilotEnd: time.Unix(0, n.PilotEnd), Draining: n.Draining,
			BusyUntil: busyUntil(n.ID),
		}
	}
	return out
}
