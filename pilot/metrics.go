package pilot

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
)

// metrics are one agent's Prometheus metrics, in a registry of its own (so
// several agents live in one test process). Counters count what this agent
// saw while it led; the ledger and node gauges are read from the ledger at
// scrape time, and only the leader's are authoritative.
type metrics struct {
	reg *prometheus.Registry

	resultsWritten   *prometheus.CounterVec // results upstream accepted, by state
	resultsRefused   prometheus.Counter     // results upstream refused (flushed, unknown)
	duplicates       prometheus.Counter     // results upstream already had
	dispatchFailures prometheus.Counter
	upstreamErrors   *prometheus.CounterVec // by operation
	leaderChanges    prometheus.Counter
	flushes          prometheus.Counter
	leading          prometheus.Gauge
}

func newMetrics(o *observer) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		resultsWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pilot_results_written_total",
			Help: "Final results this agent, as leader, wrote upstream and upstream accepted, by state (done, failed).",
		}, []string{"state"}),
		resultsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pilot_results_refused_total",
			Help: "Results upstream refused because their task was flushed or is unknown.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pilot_results_duplicate_total",
			Help: "Results upstream already had (a second execution of a task); counted, never recorded.",
		}),
		dispatchFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pilot_dispatch_failures_total",
			Help: "Dispatches to a node that failed or that the node refused; their attempts are requeued.",
		}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pilot_upstream_errors_total",
			Help: "Calls to the upstream queue that returned an error, by operation.",
		}, []string{"op"}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pilot_leader_changes_total",
			Help: "Raft leadership changes this agent observed (elections won by anyone, and leader losses).",
		}),
		flushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pilot_flushes_total",
			Help: "Flushes of the ledger this agent committed as leader.",
		}),
		leading: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pilot_leader",
			Help: "1 while this agent is the Raft leader, whose cluster metrics are authoritative.",
		}),
	}
	m.reg.MustRegister(m.resultsWritten, m.resultsRefused, m.duplicates, m.dispatchFailures,
		m.upstreamErrors, m.leaderChanges, m.flushes, m.leading, &ledgerCollector{o: o},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, s := range []string{"done", "failed"} {
		m.resultsWritten.WithLabelValues(s)
	}
	return m
}

// ledgerCollector reads the ledger's counts and its nodes' cores at scrape
// time, from one view.
type ledgerCollector struct{ o *observer }

var (
	descTasks = prometheus.NewDesc("pilot_ledger_tasks",
		"Tasks in the cluster's ledger, by state (a task leaves the ledger once its result is upstream).", []string{"state"}, nil)
	descLedgerDups = prometheus.NewDesc("pilot_ledger_duplicates",
		"Results the ledger received after a task's first one.", nil, nil)
	descLedgerLate = prometheus.NewDesc("pilot_ledger_late_results",
		"Results the ledger recorded from a requeued attempt that reported before its task was assigned again.", nil, nil)
	descApplied = prometheus.NewDesc("pilot_ledger_applied_index",
		"The Raft index this agent's ledger has applied.", nil, nil)
	descBusy = prometheus.NewDesc("pilot_node_cores_busy",
		"Cores held by running tasks, per node (at most its cores: a running task may be sealing its output outside them).", []string{"node", "pilot"}, nil)
	descAssigned = prometheus.NewDesc("pilot_node_tasks_assigned",
		"Tasks assigned to a node and not started yet (its local backlog), per node.", []string{"node", "pilot"}, nil)
	descTotal = prometheus.NewDesc("pilot_node_cores_total",
		"Cores a node offers, per node.", []string{"node", "pilot"}, nil)
	descDraining = prometheus.NewDesc("pilot_node_draining",
		"1 when a node's pilot is draining (it takes no new task).", []string{"node", "pilot"}, nil)
	descWaiting = prometheus.NewDesc("pilot_waiting_tasks",
		"Queued tasks the last plan could not place, by reason (leader only).", []string{"reason"}, nil)
)

func (c *ledgerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTasks, descLedgerDups, descLedgerLate, descApplied, descBusy, descAssigned, descTotal, descDraining, descWaiting} {
		ch <- d
	}
}

func (c *ledgerCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.o.a.raft.Ledger().View()
	n := v.Counts()
	for _, s := range []ledger.State{ledger.Queued, ledger.Assigned, ledger.Running, ledger.Done, ledger.Failed} {
		ch <- prometheus.MustNewConstMetric(descTasks, prometheus.GaugeValue, float64(n.Of(s)), s.String())
	}
	ch <- prometheus.MustNewConstMetric(descLedgerDups, prometheus.GaugeValue, float64(n.Duplicates))
	ch <- prometheus.MustNewConstMetric(descLedgerLate, prometheus.GaugeValue, float64(n.Late))
	ch <- prometheus.MustNewConstMetric(descApplied, prometheus.GaugeValue, float64(v.Applied()))
	busy, assigned := map[string]int{}, map[string]int{}
	for _, t := range v.InState(ledger.Running) {
		busy[t.Node] += t.Spec.Cores
	}
	for _, t := range v.InState(ledger.Assigned) {
		assigned[t.Node]++
	}
	for _, nd := range v.Nodes() {
		ch <- prometheus.MustNewConstMetric(descBusy, prometheus.GaugeValue, float64(min(busy[nd.ID], nd.Cores)), nd.ID, nd.Pilot)
		ch <- prometheus.MustNewConstMetric(descAssigned, prometheus.GaugeValue, float64(assigned[nd.ID]), nd.ID, nd.Pilot)
		ch <- prometheus.MustNewConstMetric(descTotal, prometheus.GaugeValue, float64(nd.Cores), nd.ID, nd.Pilot)
		ch <- prometheus.MustNewConstMetric(descDraining, prometheus.GaugeValue, b2f(nd.Draining), nd.ID, nd.Pilot)
	}
	if l := c.o.a.leading(); l != nil {
		for r, k := range l.Waiting() {
			ch <- prometheus.MustNewConstMetric(descWaiting, prometheus.GaugeValue, float64(k), string(r))
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
