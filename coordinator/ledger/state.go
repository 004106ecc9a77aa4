package ledger

import "fmt"

// State is where a task is in its life. The values are stored in snapshots:
// never renumber them.
type State uint8

// The task states. Removed is not a state a record is ever in: it is the
// target of the transitions that take a task out of the ledger.
const (
	Queued   State = 1
	Assigned State = 2
	Running  State = 3
	Done     State = 4
	Failed   State = 5
	Removed  State = 6
)

// States lists the states a record can be in, in their order.
var States = []State{Queued, Assigned, Running, Done, Failed}

var stateNames = [...]string{"invalid", "queued", "assigned", "running", "done", "failed", "removed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Final reports whether a task in s holds its one result.
func (s State) Final() bool { return s == Done || s == Failed }

// transitions is the one table of legal moves; every applyX checks it.
// Queued → done has a condition that applyComplete checks beside the
// table: only a successful Complete of the task's current attempt, after
// it was requeued (attempt ≥ 1, not yet assigned again): a late result.
var transitions = [7][7]bool{
	Queued:   {Assigned: true, Done: true, Failed: true, Removed: true},
	Assigned: {Running: true, Done: true, Failed: true, Queued: true, Removed: true},
	Running:  {Done: true, Failed: true, Queued: true, Removed: true},
	Done:     {Removed: true},
	Failed:   {Removed: true},
}

// Transition reports whether a task may move from one state to another.
func Transition(from, to State) bool {
	if int(from) >= len(transitions) || int(to) >= len(transitions) {
		return false
	}
	return transitions[from][to]
}
