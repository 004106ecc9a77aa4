package ledger

import "github.com/pilot-hpc/pilot/task"

// Task is the ledger's record of one task. Records are immutable once
// published: queries return copies whose slices and maps are shared, so a
// caller must not modify them.
type Task struct {
	Spec  task.Spec `msgpack:"spec"`
	Lease string    `msgpack:"lease,omitempty"` // the upstream lease id
	State State     `msgpack:"state"`
	// Attempt is the current attempt: the number of Assigns so far.
	Attempt       int `msgpack:"attempt,omitempty"`
	TaskFailures  int `msgpack:"task_failures,omitempty"`  // count toward max_attempts
	InfraFailures int `msgpack:"infra_failures,omitempty"` // do not
	Crashes       int `msgpack:"crashes,omitempty"`        // nodes that died while it ran there
	// FirstLost: a node died while the task's first attempt was assigned
	// there and may have started (AgentLost.MayHaveRun). An agent starts a
	// first attempt without waiting for its Started to commit: the
	// poison-task rule counts this as one more crash once the task has
	// crashed a node running.
	FirstLost  bool  `msgpack:"first_lost,omitempty"`
	IngestedAt int64 `msgpack:"ingested_at"`

	// Queued only: the position in the queue (ingest or requeue order).
	QueueSeq uint64 `msgpack:"queue_seq,omitempty"`
	// Assigned and running only.
	Node       string `msgpack:"node,omitempty"`
	AssignedAt int64  `msgpack:"assigned_at,omitempty"`
	// Running only.
	StartedAt int64 `msgpack:"started_at,omitempty"`
	// Running only: a Flush without Running kept this attempt; should it
	// not complete, the task is dropped, never requeued (no attempt of a
	// flushed task starts after the flush).
	Flushed bool `msgpack:"flushed,omitempty"`
	// Done and failed only: the one result record, and for failed the
	// stable reason code (ReasonMaxAttempts, ReasonCrashedNodes, ...).
	Result *task.Result `msgpack:"result,omitempty"`
	Reason string       `msgpack:"reason,omitempty"`
}

// Stable reason codes of a failed task (Task.Reason, and the prefix of its
// Result.Error).
const (
	ReasonMaxAttempts  = "max-attempts"  // task failures reached max_attempts
	ReasonCrashedNodes = "crashed-nodes" // the poison-task rule of AgentLost
	ReasonFatal        = "fatal"         // a Fail of class fatal (unschedulable, cancelled)
)

// Node is the ledger's record of one agent.
type Node struct {
	ID       string `msgpack:"id"`
	Cores    int    `msgpack:"cores"`
	MemMB    int64  `msgpack:"mem_mb,omitempty"` // 0: memory is not accounted on this node
	Pilot    string `msgpack:"pilot,omitempty"`
	PilotEnd int64  `msgpack:"pilot_end,omitempty"` // unix nanos when the allocation ends
	Addr     string `msgpack:"addr,omitempty"`      // the agent's RPC address
	Draining bool   `msgpack:"draining,omitempty"`
	JoinedAt int64  `msgpack:"joined_at"`
	// Prefetch is how many cores of assigned tasks the node may hold
	// beyond its Cores: a short local backlog its agent starts the moment
	// cores free up, so a task's round trip to the leader does not leave
	// them idle. Only what runs is bounded by Cores (the agent pins every
	// running task to cores of its own, promise 3); 0: no backlog.
	Prefetch int `msgpack:"prefetch,omitempty"`

	// What assigned and running tasks hold on this node.
	UsedCores int   `msgpack:"used_cores,omitempty"`
	UsedMemMB int64 `msgpack:"used_mem_mb,omitempty"`
	Tasks     int   `msgpack:"tasks,omitempty"`
}

// FreeCores is what a new task may still take on this node: its cores and
// its prefetch allowance, less what its assigned and running tasks hold.
func (n Node) FreeCores() int { return n.Cores + n.Prefetch - n.UsedCores }

// IdleCores is how many of the node's cores no task holds (0 while a
// backlog waits).
func (n Node) IdleCores() int { return max(n.Cores-n.UsedCores, 0) }

// FreeMemMB is the memory a new task may still take; meaningless when
// MemMB is 0.
func (n Node) FreeMemMB() int64 { return n.MemMB - n.UsedMemMB }

// Counts is the number of tasks in each state and the ledger's counters.
type Counts struct {
	Queued     int    `json:"queued"`
	Assigned   int    `json:"assigned"`
	Running    int    `json:"running"`
	Done       int    `json:"done"`
	Failed     int    `json:"failed"`
	Nodes      int    `json:"nodes"`
	Duplicates uint64 `json:"duplicates"` // results after a task's first one
	// Late counts the results recorded from a requeued attempt that
	// reported before its task was assigned again (see the package doc).
	Late uint64 `json:"late"`
}

// Tasks is the number of task records.
func (c Counts) Tasks() int { return c.Queued + c.Assigned + c.Running + c.Done + c.Failed }

// Of returns the count of one state.
func (c Counts) Of(s State) int {
	switch s {
	case Queued:
		return c.Queued
	case Assigned:
		return c.Assigned
	case Running:
		return c.Running
	case Done:
		return c.Done
	case Failed:
		return c.Failed
	}
	return 0
}

func (c *Counts) add(s State, d int) {
	switch s {
	case Queued:
		c.Queued += d
	case Assigned:
		c.Assigned += d
	case Running:
		c.Running += d
	case Done:
		c.Done += d
	case Failed:
		c.Failed += d
	}
}
