package sched

import "time"

// Node is one agent's node as the leader sees it when it plans.
type Node struct {
	ID         string
	TotalCores int
	FreeCores  int
	TotalMemMB int64
	FreeMemMB  int64
	// Pilot names the node's pilot (its Slurm allocation); Releasable
	// groups nodes by it.
	Pilot string
	// PilotEnd is when the node's pilot (its Slurm allocation) ends.
	PilotEnd time.Time
	// Draining nodes take no new task.
	Draining bool
	// BusyUntil is when the tasks running on the node are expected to
	// have ended (the latest start plus estimate); zero when nothing runs
	// or nothing is known. A reservation for a starved task goes to the
	// node that frees up first, and lets shorter tasks use it until then.
	BusyUntil time.Time
	// Widest is the most cores of one task assigned to or running on
	// the node; 0 when none. A node runs at most one task wider than
	// half of it (a wide task): while one waits, a node that runs none
	// may be kept for it (see Place). WideEnd is when the node's wide
	// task is expected to end (zero: none, or not known), and
	// NarrowCoreS the core-seconds its other tasks are expected to run
	// still. AddTask sets all three.
	Widest      int
	WideEnd     time.Time
	NarrowCoreS float64
}

// Shape is a pilot that the site config may still start (its nodes'
// resources and its walltime). A task fitting no live node and no Shape is
// unschedulable.
type Shape struct {
	Cores    int
	MemMB    int64
	Walltime time.Duration
}

// View is the read-only state Place plans against.
type View struct {
	// Nodes is every live node; their order does not matter.
	Nodes []Node
	// Shapes are the pilots the site config may still start.
	Shapes []Shape
	// Learned holds runtimes learned from completed tasks; nil means none.
	// Place only reads it.
	Learned *Estimator
	// Held is the previous plan's Reservations: a starved task keeps its
	// node from plan to plan until it fits there, so the node drains
	// instead of the reservation wandering while others refill it.
	Held []Reservation
}

// Task is one pending (queued) task of the ledger.
type Task struct {
	ID    string
	Cores int
	MemMB int64
	// Est is the task's own runtime estimate; 0 means none given, and
	// Place looks Key up in View.Learned.
	Est time.Duration
	// Key names the task's function and shape for learned estimates (see
	// ShapeKey).
	Key string
	// Since is when the task started waiting in the ledger.
	Since time.Time
	// Seq is the task's submission order; it breaks every other tie.
	Seq uint64
}

// Config tunes Place. DefaultConfig gives working values.
type Config struct {
	// Slack scales estimates for the walltime rule: a task needs
	// est*(1+Slack)+Margin before its node's pilot ends.
	Slack float64
	// Margin is the fixed part of the walltime rule (startup, staging).
	Margin time.Duration
	// StarveAfter is how long a task may wait before it is visited first
	// and may hold a reservation; 0 turns starvation handling off.
	StarveAfter time.Duration
	// NarrowStarveAfter, when positive, replaces StarveAfter for narrow
	// tasks (at most half the widest live node's cores), which fit in the
	// gaps any ending task leaves and so are never starved by wide ones,
	// only delayed by the visiting order. Visiting them first once they
	// waited StarveAfter fragments the room wide tasks need, which then
	// starve and hold nodes: on the simulator's mixed workload twice
	// StarveAfter (the default) gains utilisation and makes narrow tasks
	// wait longer (see the sched package doc).
	NarrowStarveAfter time.Duration
	// ReserveShare caps reservations at this share of the nodes (at least
	// one node when positive); 0 turns reservations off.
	ReserveShare float64
	// GuardLanes keeps a node that runs no task wider than half of it for
	// each such task that waits for cores (see Place).
	GuardLanes bool
}

// DefaultConfig is the scheduler's configuration when a site gives none.
func DefaultConfig() Config {
	return Config{
		Slack:             0.5,
		Margin:            2 * time.Minute,
		StarveAfter:       2 * time.Hour,
		NarrowStarveAfter: 4 * time.Hour,
		ReserveShare:      0.3,
		GuardLanes:        true,
	}
}

// Reason says why a task was not placed. The values are stable: status
// output, logs and scripts carry them.
type Reason string

// Reason codes.
const (
	// ReasonCores: no node has enough free cores now.
	ReasonCores Reason = "cores"
	// ReasonMemory: nodes have the cores but not the free memory.
	ReasonMemory Reason = "memory"
	// ReasonWalltime: nodes have room, but the task would not finish
	// before their pilots end.
	ReasonWalltime Reason = "walltime"
	// ReasonDraining: only draining nodes have room.
	ReasonDraining Reason = "draining"
	// ReasonReserved: only nodes held for a starved task have room.
	ReasonReserved Reason = "reserved"
	// ReasonFitsNoNode: the task fits no node of any live or configured
	// pilot, even an empty one; it is unschedulable.
	ReasonFitsNoNode Reason = "fits-no-node"
)

// Placement starts a task on a node.
type Placement struct {
	Task string
	Node string
}

// Reservation holds a node for a starved task until the node is expected
// to be free (Until): no placement after it in the plan is on that node,
// except tasks that are expected to end by Until or that fit in its spare
// room (backfill).
type Reservation struct {
	Task  string
	Node  string
	Until time.Time
	// After is the number of placements planned before the reservation.
	After int
	// Spare and SpareMemMB are what tasks that may run past Until can
	// still take on the node without keeping the starved task from its
	// cores and memory once the node is free: the node's size less the
	// task's, less what such tasks took in this plan and those before.
	Spare      int
	SpareMemMB int64
}

// Unschedulable is a task that fits no node of any live or configured
// pilot. Limit names what is too big (cores, memory or walltime); Detail
// says it in words for the task's failed result.
type Unschedulable struct {
	Task   string
	Limit  Reason
	Detail string
}

// Plan is what Place decides. The leader re-checks it against the newest
// ledger state before committing it.
type Plan struct {
	Placements    []Placement
	Reservations  []Reservation
	Unschedulable []Unschedulable
	// Waiting counts the tasks left waiting, by reason; WaitingCores sums
	// their cores (the leader's window leaves out those waiting for
	// walltime, see Window).
	Waiting      map[Reason]int
	WaitingCores map[Reason]int
	// IdleCores is the free cores the plan leaves on the nodes that take
	// work.
	IdleCores int
	// Kept is the nodes kept for a wide task that waits (see Place):
	// tasks placed there after it left them its cores and memory free,
	// unless they were wide themselves.
	Kept []Keep
}

// Keep is a node kept for a wide task: Cores and MemMB are what tasks no
// wider than half the node must leave free on it.
type Keep struct {
	Node  string
	Cores int
	MemMB int64
}

// Unfit is the cores of the tasks the plan left waiting that cannot use
// the room there is, which the leader's window does not count
// (LeaseRoom): those waiting only for walltime, and, when the plan leaves
// cores idle and no starved task holds a node, those waiting for cores.
// They are wider than every gap the plan left, so the window must bring
// tasks that fit the gaps: otherwise a window full of wide tasks leaves
// the cores that narrow tasks free idle until enough add up on one node.
// While a starved task holds a node the gaps are to drain for it, and
// only the tasks waiting for walltime are left out.
func (p Plan) Unfit() int {
	n := p.WaitingCores[ReasonWalltime]
	if p.IdleCores > 0 && len(p.Reservations) == 0 {
		n += p.WaitingCores[ReasonCores]
	}
	return n
}
