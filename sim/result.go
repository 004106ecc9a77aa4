package sim

import (
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
	"time"
)

// metrics are counted while the simulation runs.
type metrics struct {
	ingested, started []time.Duration // per job; started is -1 until it first starts
	busy, wasted      float64         // core-seconds
	done, failed      int
	walltimeKills     int
	lossKills         int
	nodesLost         int
	released          int // pilots released before their walltime
	events            int
	end               time.Duration // when the last task became final
	placeCalls        int
	placeTime         time.Duration
	// Core-seconds used and allocated up to now, integrated per instant,
	// and their values when upstream ran out of tasks.
	used, alloc           float64
	lastRound             time.Duration
	usedCores, liveCores  int // as of lastRound
	drainedAt             time.Duration
	usedDrain, allocDrain float64
}

func newMetrics(jobs int) metrics {
	m := metrics{ingested: make([]time.Duration, jobs), started: make([]time.Duration, jobs)}
	for i := range m.started {
		m.started[i] = -1
	}
	return m
}

// Result is the figures of one run; the JSON names are what `pilot sim
// --json` prints and scripts read.
type Result struct {
	Policy   string  `json:"policy"`
	Workload string  `json:"workload"`
	Seed     int64   `json:"seed"`
	Tasks    int     `json:"tasks"`
	Done     int     `json:"done"`
	Failed   int     `json:"failed"`
	Nodes    int     `json:"nodes"`
	Cores    int     `json:"cores"`
	WallS    float64 `json:"walltime_s"`
	Pilots   int     `json:"pilots_started"`
	Lost     int     `json:"nodes_lost"`
	// Released counts the pilots released before their walltime: idle,
	// with upstream drained and no queued task fitting their time left.
	Released int `json:"pilots_released"`

	MakespanS   float64 `json:"makespan_s"`
	LowerBoundS float64 `json:"lower_bound_s"`
	// WideBoundS is a second lower bound: at most one task wider than
	// half a node runs on a node at a time, so the wide tasks' runtimes
	// spread over every node. Above LowerBoundS, no schedule can keep
	// every core busy.
	WideBoundS     float64 `json:"wide_bound_s"`
	MakespanOverLB float64 `json:"makespan_over_lb"`
	// Utilization is busy / allocated core-seconds, while work remained.
	Utilization    float64 `json:"utilization"`
	AllocatedCoreS float64 `json:"allocated_core_s"`
	// BusyCoreS counts the attempts that succeeded; killed ones are wasted.
	BusyCoreS   float64 `json:"busy_core_s"`
	IdleCoreS   float64 `json:"idle_core_s"`
	WastedCoreS float64 `json:"wasted_core_s"`
	WastedFrac  float64 `json:"wasted_frac"`
	// Attempts killed by a pilot's walltime and by a node's death.
	WalltimeKills int `json:"walltime_kills"`
	NodeLossKills int `json:"node_loss_kills"`

	// Waits run from a task's entry into the ledger to its first start.
	P50WaitS       float64 `json:"p50_wait_s"`
	P99WaitS       float64 `json:"p99_wait_s"`
	NarrowP99WaitS float64 `json:"narrow_p99_wait_s"`
	WideTasks      int     `json:"wide_tasks"` // more than half a node's cores
	WideP99WaitS   float64 `json:"wide_p99_wait_s"`
	WideMaxWaitS   float64 `json:"wide_max_wait_s"`
	NoEstimate     int     `json:"no_estimate"`
	// IdleByCause splits the idle core-seconds (allocated less used by
	// attempts, killed ones included) by why the cores idled; Hours gives
	// them hour by hour when Config.Hourly is set.
	IdleByCause IdleCauses `json:"idle_by_cause"`
	Hours       []Hour     `json:"hours,omitempty"`

	Events          int    `json:"events"`
	LedgerEntries   uint64 `json:"ledger_entries"`
	InvariantChecks int    `json:"invariant_checks"` // of the whole ledger
	TouchedChecks   int    `json:"touched_checks"`   // of what one entry touched
	// SteadyUtilization is the share of allocated cores running
	// attempts until upstream ran out of tasks: packing without the
	// campaign's tail, where too few tasks are left to fill the nodes.
	SteadyUtilization float64 `json:"steady_utilization"`
	UpstreamEmptyS    float64 `json:"upstream_empty_s"`
	PlaceCalls        int     `json:"place_calls"`
	PlaceMeanMS       float64 `json:"place_mean_ms"`
	SimWallS          float64 `json:"sim_wall_s"`
}

func (r *run) result() Result {
	m := &r.m
	res := Result{
		Policy: r.cfg.Policy, Workload: r.cfg.workloadName(), Seed: r.cfg.Seed,
		Tasks: len(r.jobs), Done: m.done, Failed: m.failed,
		Nodes: r.cfg.Nodes, Cores: r.cfg.Cores, WallS: r.cfg.Walltime.Seconds(),
		Pilots: len(r.pilots), Lost: m.nodesLost, Released: m.released,
		MakespanS:     m.end.Seconds(),
		LowerBoundS:   lowerBound(r.jobs, r.cfg.Nodes*r.cfg.Cores).Seconds(),
		WideBoundS:    wideBound(r.jobs, r.cfg.Nodes, r.cfg.Cores).Seconds(),
		BusyCoreS:     m.busy,
		WastedCoreS:   m.wasted,
		WalltimeKills: m.walltimeKills, NodeLossKills: m.lossKills,
		Events: m.events, LedgerEntries: r.book.index, InvariantChecks: r.book.checks, TouchedChecks: r.book.touchedChecks,
		PlaceCalls: m.placeCalls,
	}
	for _, n := range r.nodes {
		left := m.end
		if n.left >= 0 {
			left = min(left, n.left)
		}
		if left > n.joined {
			res.AllocatedCoreS += float64(r.cfg.Cores) * (left - n.joined).Seconds()
		}
	}
	r.idle.finish()
	for _, h := range r.idle.hours {
		res.IdleByCause.add([idleCauses]float64{h.Idle.NoQueue, h.Idle.Held, h.Idle.Walltime, h.Idle.Wide, h.Idle.Gap}, false)
		res.IdleByCause.Tail += h.Idle.Tail
	}
	if r.cfg.Hourly {
		res.Hours = r.idle.hours
	}
	res.IdleCoreS = res.AllocatedCoreS - res.BusyCoreS - res.WastedCoreS
	res.MakespanOverLB = ratio(res.MakespanS, res.LowerBoundS)
	res.Utilization = ratio(res.BusyCoreS, res.AllocatedCoreS)
	res.WastedFrac = ratio(res.WastedCoreS, res.AllocatedCoreS)
	res.SteadyUtilization = ratio(m.usedDrain, m.allocDrain)
	res.UpstreamEmptyS = m.drainedAt.Seconds()
	if m.placeCalls > 0 {
		res.PlaceMeanMS = m.placeTime.Seconds() * 1000 / float64(m.placeCalls)
	}
	var all, narrow, wide []float64
	for i, j := range r.jobs {
		if j.Spec.EstS == 0 {
			res.NoEstimate++
		}
		if m.started[i] < 0 {
			continue
		}
		w := (m.started[i] - m.ingested[i]).Seconds()
		all = append(all, w)
		if 2*j.Spec.Cores > r.cfg.Cores {
			wide = append(wide, w)
		} else {
			narrow = append(narrow, w)
		}
	}
	res.WideTasks = len(wide)
	res.P50WaitS, res.P99WaitS = quantile(all, 0.5), quantile(all, 0.99)
	res.NarrowP99WaitS = quantile(narrow, 0.99)
	res.WideP99WaitS, res.WideMaxWaitS = quantile(wide, 0.99), quantile(wide, 1)
	return res
}

// lowerBound is the shortest any schedule could take: all the work spread
// over every core at once, or the longest task, whichever is longer.
func lowerBound(jobs []Job, cores int) time.Duration {
	var coreS float64
	var longest time.Duration
	for _, j := range jobs {
		coreS += float64(j.Spec.Cores) * j.True.Seconds()
		longest = max(longest, j.True)
	}
	return max(seconds(coreS/float64(cores)), longest)
}

// wideBound is the shortest time the tasks wider than half a node can
// take: one of them at a time on each node.
func wideBound(jobs []Job, nodes, cores int) time.Duration {
	var run time.Duration
	for _, j := range jobs {
		if 2*j.Spec.Cores > cores {
			run += j.True
		}
	}
	return run / time.Duration(nodes)
}

func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[max(0, int(math.Ceil(q*float64(len(xs))))-1)]
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Table prints results side by side, one column per run.
func Table(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(name string, f func(Result) string) {
		fmt.Fprintf(tw, "%s\t", name)
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t", f(r))
		}
		fmt.Fprintln(tw)
	}
	num := func(format string, f func(Result) float64) func(Result) string {
		return func(r Result) string { return fmt.Sprintf(format, f(r)) }
	}
	hours := func(f func(Result) float64) func(Result) string {
		return func(r Result) string { return fmt.Sprintf("%.2f h", f(r)/3600) }
	}
	row("policy", func(r Result) string { return r.Policy })
	row("workload", func(r Result) string { return r.Workload })
	row("seed", num("%.0f", func(r Result) float64 { return float64(r.Seed) }))
	row("tasks done/failed", func(r Result) string { return fmt.Sprintf("%d/%d of %d", r.Done, r.Failed, r.Tasks) })
	row("pilots started, released early, nodes lost", func(r Result) string { return fmt.Sprintf("%d, %d, %d", r.Pilots, r.Released, r.Lost) })
	row("makespan", hours(func(r Result) float64 { return r.MakespanS }))
	row("lower bound", hours(func(r Result) float64 { return r.LowerBoundS }))
	row("wide tasks' bound (one a node)", hours(func(r Result) float64 { return r.WideBoundS }))
	row("makespan / lower bound", num("%.4f", func(r Result) float64 { return r.MakespanOverLB }))
	row("utilization", num("%.4f", func(r Result) float64 { return r.Utilization }))
	row("allocated core-h", num("%.0f", func(r Result) float64 { return r.AllocatedCoreS / 3600 }))
	row("busy core-h", num("%.0f", func(r Result) float64 { return r.BusyCoreS / 3600 }))
	row("idle core-h", num("%.0f", func(r Result) float64 { return r.IdleCoreS / 3600 }))
	row("wasted core-h", num("%.0f", func(r Result) float64 { return r.WastedCoreS / 3600 }))
	row("steady utilization (until upstream empty)", num("%.4f", func(r Result) float64 { return r.SteadyUtilization }))
	row("wasted / allocated", num("%.4f", func(r Result) float64 { return r.WastedFrac }))
	row("kills: walltime, node loss", func(r Result) string { return fmt.Sprintf("%d, %d", r.WalltimeKills, r.NodeLossKills) })
	row("wait p50, p99", func(r Result) string { return fmt.Sprintf("%.0f s, %.0f s", r.P50WaitS, r.P99WaitS) })
	row("narrow wait p99", num("%.0f s", func(r Result) float64 { return r.NarrowP99WaitS }))
	row("wide wait p99, max", func(r Result) string { return fmt.Sprintf("%.0f s, %.0f s", r.WideP99WaitS, r.WideMaxWaitS) })
	row("Place calls, mean", func(r Result) string { return fmt.Sprintf("%d, %.3f ms", r.PlaceCalls, r.PlaceMeanMS) })
	row("ledger entries, checks: whole, touched", func(r Result) string {
		return fmt.Sprintf("%d: %d, %d", r.LedgerEntries, r.InvariantChecks, r.TouchedChecks)
	})
	row("simulation wall time", num("%.1f s", func(r Result) float64 { return r.SimWallS }))
	return tw.Flush()
}
