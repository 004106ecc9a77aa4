package batch

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// LaunchPolicy is how a site keeps a campaign supplied with pilots.
type LaunchPolicy struct {
	// Keep is how many pilots should be alive (queued or running) while
	// work remains.
	Keep int
	// Overlap is how long before a running pilot's end its successor is
	// queued. It must exceed the site's usual queue wait, so the successor
	// runs before the old pilot ends and the campaign never has zero agents.
	Overlap time.Duration
	// MaxQueued caps the pilots waiting in the queue at once; 0 means Keep.
	MaxQueued int
	// PilotCoreS is what one pilot can deliver (nodes x cores x walltime,
	// in core-seconds); 0 means unknown, and then Keep pilots are wanted
	// whatever the work.
	PilotCoreS float64
	// PilotCores is one pilot's cores (nodes x cores); 0 means unknown.
	// With it and Work.LongestS, a pilot counts only for what it can run
	// before the work could end anyway (see PlanLaunch).
	PilotCores int
	// Nodes is one pilot's nodes; 0 means unknown, and every pilot is
	// submitted whole.
	Nodes int
}

// Work is what remains of a campaign upstream.
type Work struct {
	// Tasks counts tasks not final yet: pending, leased or running. A
	// launcher that knows which tasks run may count only those not
	// started: running ones hold their pilots already (the simulator
	// does, sim/launch.go).
	Tasks int
	// CoreS estimates their core-seconds; 0 means unknown.
	CoreS float64
	// LongestS is the longest expected runtime among them, in seconds
	// (what is left of it for a running task); 0 means unknown.
	LongestS float64
	// Drained says upstream has no task left to lease: the live cluster
	// holds all the work left, and releases the pilots it cannot use
	// (sched.Releasable).
	Drained bool
}

// LaunchPlan is PlanLaunch's answer.
type LaunchPlan struct {
	// Submit is how many pilots to submit now.
	Submit int
	// Want is how many pilots should be alive; Covering how many are
	// (queued, or running with more than Overlap left).
	Want, Covering int
	// Nodes is how many nodes each pilot submitted now should have; 0
	// means a whole pilot (the request's). It is fewer when the work
	// left fills less than one pilot.
	Nodes int
	// Expiring are running pilots within Overlap of their end, whose
	// successors count in Submit.
	Expiring []string
	// Stuck are queued pilots whose reason says they cannot start as
	// submitted (a limit or a bad account); someone must look at them.
	Stuck []string
	// Why says in one line how the numbers came about.
	Why string
}

// PlanLaunch decides how many pilots to submit now. It is pure: the caller
// polls the batch system (Tracker) and upstream, and submits. A pilot that
// is queued counts as covering, so a slow queue never makes it submit more
// than MaxQueued; a running pilot stops covering Overlap before its end, so
// its successor is queued in time.
//
// With the work's core-seconds and a pilot's capacity known, it wants only
// the pilots the work can use: the work fills Work.CoreS/PilotCoreS
// pilots. When the longest task and a pilot's cores are known too, a pilot
// counts only for its cores times the span the work needs at best: the
// longest task, or the work spread over Keep pilots if that is longer.
// While the work is wide the span is the whole walltime or more, and Keep
// pilots are wanted; at the campaign's tail, when a few long tasks are
// left, more pilots would not end it sooner and would sit nearly idle, so
// fewer are wanted. When the work fills less than one pilot and the
// policy knows a pilot's nodes, the pilot asks for only the nodes the work
// keeps busy over that span (at least one): a few long tasks left at the
// end need a node or two for two hours, not a whole pilot.
func PlanLaunch(now time.Time, pilots []JobStatus, work Work, p LaunchPolicy) LaunchPlan {
	var plan LaunchPlan
	queued := 0
	sorted := append([]JobStatus(nil), pilots...)
	sort.Slice(sorted, func(i, k int) bool { return sorted[i].ID < sorted[k].ID })
	for _, j := range sorted {
		switch {
		case j.State.Terminal():
		case j.State.Queued():
			queued++
			plan.Covering++
			if stuckReason(j.Reason) {
				plan.Stuck = append(plan.Stuck, j.ID)
			}
		case j.End.IsZero() || j.End.Sub(now) > p.Overlap:
			plan.Covering++
		default:
			plan.Expiring = append(plan.Expiring, j.ID)
		}
	}
	if work.Tasks <= 0 {
		plan.Why = "no work remains upstream"
		return plan
	}
	plan.Want = max(p.Keep, 1)
	why := fmt.Sprintf("keep %d", plan.Want)
	if p.PilotCoreS > 0 && work.CoreS > 0 {
		per := p.PilotCoreS
		if p.PilotCores > 0 && work.LongestS > 0 {
			span := max(work.LongestS, work.CoreS/float64(plan.Want*p.PilotCores))
			per = min(per, float64(p.PilotCores)*span)
		}
		need := int(math.Ceil(work.CoreS / per))
		if need < plan.Want {
			plan.Want = max(need, 1)
			why = fmt.Sprintf("%.0f core-s of work fill %d pilot(s)", work.CoreS, plan.Want)
		}
		if n := int(math.Ceil(work.CoreS / per * float64(p.Nodes))); plan.Want == 1 && n < p.Nodes {
			plan.Nodes = max(n, 1)
			why += fmt.Sprintf(" of %d node(s)", plan.Nodes)
		}
	}
	if work.Drained && plan.Want > 1 {
		// A new pilot gets only what the cluster holds, which its live
		// pilots already work on; one that gets nothing is released at
		// once, and another would replace it, and so on. One pilot is
		// wanted, for the tasks no live pilot has the time left for.
		plan.Want = 1
		why = "upstream drained: keep 1"
	}
	plan.Submit = max(plan.Want-plan.Covering, 0)
	maxQueued := p.MaxQueued
	if maxQueued <= 0 {
		maxQueued = plan.Want
	}
	if room := max(maxQueued-queued, 0); plan.Submit > room {
		plan.Submit = room
		why += fmt.Sprintf(", at most %d queued", maxQueued)
	}
	plan.Why = fmt.Sprintf("%d task(s) remain; %s; %d covering (%d queued), %d expiring within %s: submit %d",
		work.Tasks, why, plan.Covering, queued, len(plan.Expiring), p.Overlap, plan.Submit)
	if len(plan.Stuck) > 0 {
		plan.Why += fmt.Sprintf("; pilot(s) %s cannot start as submitted", strings.Join(plan.Stuck, ","))
	}
	return plan
}

// stuckReason reports a pending reason that will not clear by waiting:
// the job asks for more than a limit allows, or names a bad account or QOS.
func stuckReason(reason string) bool {
	for _, r := range []string{"PartitionNodeLimit", "PartitionTimeLimit", "InvalidAccount", "InvalidQOS",
		"QOSMaxWallDurationPerJobLimit", "QOSMaxNodePerJobLimit", "AssocMaxWallDurationPerJobLimit",
		"AssocMaxNodesPerJob", "BadConstraints", "PartitionConfig"} {
		if strings.HasPrefix(reason, r) {
			return true
		}
	}
	return false
}
