package pilot

import (
	"sort"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
)

// ClusterStatus is what the leader says about the live cluster: the
// ledger's counts, its nodes and pilots, the oldest running tasks, why
// queued tasks wait, and the throughput it measured. It is the JSON of GET
// /status on the leader's HTTP address; field names are stable.
type ClusterStatus struct {
	Leader        string         `json:"leader"` // the node that answered: the Raft leader
	HTTP          string         `json:"http"`   // its HTTP address
	At            time.Time      `json:"at"`
	Applied       uint64         `json:"applied"` // the ledger's Raft index
	Ledger        ledger.Counts  `json:"ledger"`
	RetryWaiting  int            `json:"retry_waiting"` // queued tasks that already had an attempt
	Nodes         []NodeStatus   `json:"nodes"`
	Pilots        []PilotStatus  `json:"pilots"`
	Running       []RunningTask  `json:"running"` // the oldest running tasks, at most maxRunningShown
	Oldest        *RunningTask   `json:"oldest_running,omitempty"`
	Waiting       map[string]int `json:"waiting"` // queued tasks the last plan could not place, by reason
	Throughput    Throughput     `json:"throughput"`
	UpstreamError string         `json:"upstream_error,omitempty"`
}

// NodeStatus is one node of the ledger.
type NodeStatus struct {
	ID    string `json:"id"`
	Pilot string `json:"pilot"`
	// CoresBusy is the cores of the node's running tasks, at most its
	// cores: a task the ledger holds as running may be sealing its output
	// after its process ended, outside its cores, while the next one runs.
	CoresBusy  int `json:"cores_busy"`
	CoresTotal int `json:"cores_total"`
	// Prefetch is how many cores of assigned tasks the node may hold
	// beyond its own, as a local backlog; Assigned counts those tasks.
	Prefetch int          `json:"prefetch,omitempty"`
	Running  int          `json:"running"`
	Assigned int          `json:"assigned"`
	MemMB    int64        `json:"mem_mb,omitempty"`
	Draining bool         `json:"draining"`
	Oldest   *RunningTask `json:"oldest,omitempty"` // its oldest running task
}

// PilotStatus is one pilot (allocation) with nodes in the ledger.
type PilotStatus struct {
	ID         string    `json:"id"`
	Nodes      int       `json:"nodes"`
	CoresBusy  int       `json:"cores_busy"`
	CoresTotal int       `json:"cores_total"`
	End        time.Time `json:"end,omitzero"`
	LeftS      float64   `json:"left_s,omitempty"` // until End
	Draining   bool      `json:"draining"`
	// SlurmState is the job's state from squeue, when asked and known.
	SlurmState string `json:"slurm_state,omitempty"`
}

// RunningTask is one running attempt.
type RunningTask struct {
	ID      string    `json:"id"`
	Node    string    `json:"node"`
	Attempt int       `json:"attempt"`
	Cores   int       `json:"cores"`
	Since   time.Time `json:"since"`
	AgeS    float64   `json:"age_s"`
}

// maxRunningShown bounds the running tasks a status lists.
const maxRunningShown = 50

// clusterStatus reads one view of the ledger into a ClusterStatus.
func clusterStatus(v ledger.View, now time.Time) ClusterStatus {
	st := ClusterStatus{At: now, Applied: v.Applied(), Ledger: v.Counts(), Waiting: map[string]int{}}
	v.WalkQueued(func(t *ledger.Task) bool {
		if t.Attempt > 0 {
			st.RetryWaiting++
		}
		return false
	})
	running := v.InState(ledger.Running)
	sort.Slice(running, func(i, j int) bool {
		if running[i].StartedAt != running[j].StartedAt {
			return running[i].StartedAt < running[j].StartedAt
		}
		return running[i].Spec.ID < running[j].Spec.ID
	})
	oldest := map[string]*RunningTask{}
	busy, nrun, nassigned := map[string]int{}, map[string]int{}, map[string]int{}
	for _, t := range v.InState(ledger.Assigned) {
		nassigned[t.Node]++
	}
	for i, t := range running {
		busy[t.Node] += t.Spec.Cores
		nrun[t.Node]++
		rt := RunningTask{ID: t.Spec.ID, Node: t.Node, Attempt: t.Attempt, Cores: t.Spec.Cores, Since: time.Unix(0, t.StartedAt).UTC()}
		rt.AgeS = now.Sub(rt.Since).Seconds()
		if i < maxRunningShown {
			st.Running = append(st.Running, rt)
		}
		if oldest[t.Node] == nil {
			oldest[t.Node] = &rt
		}
		if i == 0 {
			st.Oldest = &rt
		}
	}
	pilots := map[string]*PilotStatus{}
	var order []string
	for _, n := range v.Nodes() {
		st.Nodes = append(st.Nodes, NodeStatus{
			ID: n.ID, Pilot: n.Pilot, CoresBusy: min(busy[n.ID], n.Cores), CoresTotal: n.Cores, Prefetch: n.Prefetch,
			Running: nrun[n.ID], Assigned: nassigned[n.ID], MemMB: n.MemMB, Draining: n.Draining, Oldest: oldest[n.ID],
		})
		p := pilots[n.Pilot]
		if p == nil {
			p = &PilotStatus{ID: n.Pilot}
			pilots[n.Pilot] = p
			order = append(order, n.Pilot)
		}
		p.Nodes++
		p.CoresBusy += min(busy[n.ID], n.Cores)
		p.CoresTotal += n.Cores
		p.Draining = p.Draining || n.Draining
		if n.PilotEnd != 0 {
			p.End = time.Unix(0, n.PilotEnd).UTC()
			p.LeftS = max(0, p.End.Sub(now).Seconds())
		}
	}
	sort.Strings(order)
	for _, id := range order {
		st.Pilots = append(st.Pilots, *pilots[id])
	}
	return st
}

// busyCores sums the cores of running tasks, at most each node's, and the
// cores the ledger's nodes offer (assigned tasks wait in a node's backlog
// and hold none).
func busyCores(v ledger.View) (busy, total int) {
	per := map[string]int{}
	for _, t := range v.InState(ledger.Running) {
		per[t.Node] += t.Spec.Cores
	}
	for _, n := range v.Nodes() {
		busy += min(per[n.ID], n.Cores)
		total += n.Cores
	}
	return busy, total
}
