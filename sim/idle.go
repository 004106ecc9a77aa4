package sim

import (
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/sched"
)

// idleCause is why a free core of a live node idled between two rounds,
// as the round's plan left it.
type idleCause uint8

const (
	// idleNoQueue: no task was left queued in the ledger (the window ran
	// dry, or upstream is drained).
	idleNoQueue idleCause = iota
	// idleHeld: the node is held for a starved task and drains for it.
	idleHeld
	// idleWalltime: a queued task has no more cores than the node has
	// free, yet was not placed: it needs more time than the node's pilot
	// has left (the walltime rule), or the node is kept for a wide task
	// (sched's lanes); memory never binds first on the built-in
	// workloads.
	idleWalltime
	// idleWide: every queued task is wider than the node's free cores,
	// and the narrowest is wider than half a node: wide tasks wait for
	// room that narrow ones fragment.
	idleWide
	// idleGap: every queued task is wider than the node's free cores,
	// and some are narrow: the window holds no task small enough for the
	// gap.
	idleGap
	idleCauses
)

// IdleCauses splits the idle core-seconds of a run by why the cores
// idled (see Config.Hourly). Tail is every idle core-second after the last
// start of any attempt, when only running tasks were left; the others
// are before it.
type IdleCauses struct {
	NoQueue  float64 `json:"no_queue"`
	Held     float64 `json:"held"`
	Walltime float64 `json:"walltime"`
	Wide     float64 `json:"wide"`
	Gap      float64 `json:"gap"`
	Tail     float64 `json:"tail"`
}

// Hour is one hour of a run's allocation: core-seconds allocated, used by
// running attempts (including those killed later) and idle, by cause.
type Hour struct {
	Hour   int     `json:"hour"`
	AllocS float64 `json:"allocated_core_s"`
	BusyS  float64 `json:"busy_core_s"`
	Idle   IdleCauses
	// NoWideNodeS is the node-seconds of live nodes on which no task
	// wider than half a node ran: those wide tasks, one to a node at a
	// time, cannot use them.
	NoWideNodeS float64 `json:"no_wide_node_s"`
}

// idleMeter integrates the allocated, used and idle cores of every
// interval between two rounds, hour by hour. Idle core-seconds wait in
// prov until the next start of an attempt; those no start followed are
// the tail.
type idleMeter struct {
	alloc, busy int
	noWide      int // live nodes running no wide task
	cores       [idleCauses]int
	hours       []Hour
	prov        [][idleCauses]float64 // by hour, since provFrom
	provFrom    int
	placed      []uint32 // by job: the round that placed it, to find the tasks left waiting
	round       uint32
}

// add integrates the cores of the last round over [from, to).
func (m *idleMeter) add(from, to time.Duration) {
	for from < to {
		h := int(from / time.Hour)
		end := min(to, time.Duration(h+1)*time.Hour)
		dt := (end - from).Seconds()
		for len(m.hours) <= h {
			m.hours = append(m.hours, Hour{Hour: len(m.hours)})
			m.prov = append(m.prov, [idleCauses]float64{})
		}
		m.hours[h].AllocS += float64(m.alloc) * dt
		m.hours[h].BusyS += float64(m.busy) * dt
		m.hours[h].NoWideNodeS += float64(m.noWide) * dt
		for c, n := range m.cores {
			m.prov[h][c] += float64(n) * dt
		}
		from = end
	}
}

// started books the idle core-seconds since the last start by cause: an
// attempt started at now, so they were not the tail.
func (m *idleMeter) started(now time.Duration) {
	for h := m.provFrom; h < len(m.prov); h++ {
		m.hours[h].Idle.add(m.prov[h], false)
		m.prov[h] = [idleCauses]float64{}
	}
	m.provFrom = int(now / time.Hour)
}

// finish books what no start followed as the tail.
func (m *idleMeter) finish() {
	for h := m.provFrom; h < len(m.prov); h++ {
		m.hours[h].Idle.add(m.prov[h], true)
		m.prov[h] = [idleCauses]float64{}
	}
}

func (c *IdleCauses) add(s [idleCauses]float64, tail bool) {
	if tail {
		for _, v := range s {
			c.Tail += v
		}
		return
	}
	c.NoQueue += s[idleNoQueue]
	c.Held += s[idleHeld]
	c.Walltime += s[idleWalltime]
	c.Wide += s[idleWide]
	c.Gap += s[idleGap]
}

func (c IdleCauses) sum() float64 { return c.NoQueue + c.Held + c.Walltime + c.Wide + c.Gap + c.Tail }

// classify notes the cores of the live nodes as the round leaves them
// until the next: nodes as the round's plan saw them, the placements it
// made and the nodes held for starved tasks; nodes released in the round
// count no more.
func (r *run) classify(nodes []sched.Node, places []sched.Placement) {
	m := &r.idle
	m.round++
	if m.placed == nil {
		m.placed = make([]uint32, len(r.jobs))
	}
	free := map[string]int{}
	for _, p := range places {
		j := r.jobOf[p.Task]
		m.placed[j] = m.round
		free[p.Node] -= r.jobs[j].Spec.Cores
	}
	narrowest := math.MaxInt
	for k, t := range r.pend {
		if m.placed[r.pendJob[k]] != m.round {
			narrowest = min(narrowest, t.Cores)
		}
	}
	held := map[string]bool{}
	for _, h := range r.held {
		held[h.Node] = true
	}
	m.alloc, m.busy, m.noWide, m.cores = 0, 0, 0, [idleCauses]int{}
	for _, n := range nodes {
		if n.Draining || r.nodes[r.nodeOf[n.ID]].left >= 0 {
			continue
		}
		f := n.FreeCores + free[n.ID]
		m.alloc += n.TotalCores
		if !slices.ContainsFunc(r.running[r.nodeOf[n.ID]], func(j int32) bool { return 2*r.jobs[j].Spec.Cores > n.TotalCores }) {
			m.noWide++
		}
		m.busy += n.TotalCores - f
		if f <= 0 {
			continue
		}
		var c idleCause
		switch {
		case held[n.ID]:
			c = idleHeld
		case narrowest == math.MaxInt:
			c = idleNoQueue
		case narrowest <= f:
			c = idleWalltime
		case 2*narrowest > n.TotalCores:
			c = idleWide
		default:
			c = idleGap
		}
		m.cores[c] += f
	}
	if len(places) > 0 {
		m.started(r.now)
	}
}

// HourTable prints a run's hours: allocated and busy core-hours, and the
// idle ones by cause.
func HourTable(w io.Writer, res Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "hour\talloc core-h\tbusy core-h\tutil\tno queue\theld\twalltime\twide\tgap\ttail\tno-wide node-h\t")
	line := func(name string, alloc, busy, noWide float64, c IdleCauses) {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.4f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", name, alloc/3600, busy/3600, ratio(busy, alloc),
			c.NoQueue/3600, c.Held/3600, c.Walltime/3600, c.Wide/3600, c.Gap/3600, c.Tail/3600, noWide/3600)
	}
	var alloc, busy, noWide float64
	for _, h := range res.Hours {
		line(fmt.Sprint(h.Hour), h.AllocS, h.BusyS, h.NoWideNodeS, h.Idle)
		alloc += h.AllocS
		busy += h.BusyS
		noWide += h.NoWideNodeS
	}
	line("all", alloc, busy, noWide, res.IdleByCause)
	return tw.Flush()
}
