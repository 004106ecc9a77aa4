package ledger

import (
	"fmt"
	"strings"
)

func (x *txn) applyAgentJoined(c AgentJoined) {
	in := c.Node
	switch {
	case in.ID == "" || strings.IndexByte(in.ID, 0) >= 0:
		x.out.refuse(CmdAgentJoined, "", in.ID, CodeInvalid, "a node id must be non-empty and contain no NUL byte")
		return
	case in.Cores < 1:
		x.out.refuse(CmdAgentJoined, "", in.ID, CodeInvalid, "cores must be at least 1, got %d", in.Cores)
		return
	case in.MemMB < 0:
		x.out.refuse(CmdAgentJoined, "", in.ID, CodeInvalid, "mem_mb must not be negative, got %d", in.MemMB)
		return
	case in.Prefetch < 0:
		x.out.refuse(CmdAgentJoined, "", in.ID, CodeInvalid, "prefetch must not be negative, got %d", in.Prefetch)
		return
	}
	n := Node{JoinedAt: c.At}
	if old, ok := x.node(in.ID); ok {
		if in.Cores+in.Prefetch < old.UsedCores || (in.MemMB > 0 && in.MemMB < old.UsedMemMB) {
			x.out.refuse(CmdAgentJoined, "", in.ID, CodeOversubscribed, "the node rejoined with %d cores (prefetch %d) and %d MB, its tasks use %d cores and %d MB", in.Cores, in.Prefetch, in.MemMB, old.UsedCores, old.UsedMemMB)
			return
		}
		n = *old
		if in.Pilot != old.Pilot {
			// The same host in a new allocation: a fresh start.
			n.Draining, n.JoinedAt = false, c.At
		}
	}
	n.ID, n.Cores, n.MemMB, n.Pilot, n.PilotEnd, n.Addr, n.Prefetch = in.ID, in.Cores, in.MemMB, in.Pilot, in.PilotEnd, in.Addr, in.Prefetch
	x.nodes.Insert(n.ID, &n)
	x.out.Applied++
}

func (x *txn) applyAgentLost(c AgentLost) {
	if _, ok := x.node(c.Node); !ok {
		x.out.refuse(CmdAgentLost, "", c.Node, CodeUnknownNode, "no such node in the ledger")
		return
	}
	limit := c.CrashLimit
	if limit <= 0 {
		limit = DefaultCrashLimit
	}
	mayHaveRun := make(map[string]bool, len(c.MayHaveRun))
	for _, id := range c.MayHaveRun {
		mayHaveRun[id] = true
	}
	for _, t := range x.onNode(c.Node) {
		nt := *t
		nt.InfraFailures++
		if t.State != Running {
			// Assigned, not recorded running: it waited in the node's
			// backlog, or (a first attempt only) it started and the node
			// died before its Started committed. It is not charged; a
			// first attempt that may have run is marked, see crashCount.
			nt.FirstLost = nt.FirstLost || (t.Attempt == 1 && mayHaveRun[t.Spec.ID])
			x.requeue(t, nt)
			continue
		}
		nt.Crashes++
		if n := crashCount(nt); n >= limit {
			x.finalFail(t, &nt, ReasonCrashedNodes, fmt.Sprintf("the task was running on %d nodes that died, the last %s; it may be what kills them", n, c.Node), nil)
			continue
		}
		x.requeue(t, nt)
	}
	x.nodes.Delete(c.Node)
	x.out.Applied++
}

func (x *txn) applyPilotDraining(c PilotDraining) {
	var hit []*Node
	x.nodes.tree().Walk(func(_ string, n *Node) bool {
		if n.Pilot == c.Pilot {
			hit = append(hit, n)
		}
		return false
	})
	if len(hit) == 0 {
		x.out.refuse(CmdPilotDraining, "", "", CodeUnknownNode, "no node of pilot %q in the ledger", c.Pilot)
		return
	}
	for _, n := range hit {
		nn := *n
		nn.Draining = true
		x.nodes.Insert(nn.ID, &nn)
	}
	x.out.Applied++
}

// crashCount is what the poison-task rule holds against a task: the nodes
// that died while it ran there, plus one if a node died while its first
// attempt was assigned there (unconfirmed: it may have run) and it has
// since crashed a node running. A task that kills its node at once is so
// failed after CrashLimit node losses, although its first start may never
// have been recorded, and a task that merely waited in backlogs never is.
func crashCount(t Task) int {
	if t.FirstLost && t.Crashes > 0 {
		return t.Crashes + 1
	}
	return t.Crashes
}
