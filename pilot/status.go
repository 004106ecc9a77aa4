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
	ID         string       `json:"id"`
	Pilot      string       `json:"pilot"`
	CoresBusy  int          `json:"cores_busy"`
	CoresTotal int          `json:"cores_total"`
	MemMB      int64        `json:"mem_mb,omitempty"`
	Tasks      int          `json:"tasks"` // assigned and running
	Draining   bool         `json:"draining"`
	Oldest     *RunningTask `json:"oldest,omitempty"` // its oldest running task
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
	for i, t := range running {
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
			ID: n.ID, Pilot: n.Pilot, CoresBusy: n.UsedCores, CoresTotal: n.Cores, MemMB: n.MemMB,
			Tasks: n.Tasks, Draining: n.Draining, Oldest: oldest[n.ID],
		})
		p := pilots[n.Pilot]
		if p == nil {
			p = &PilotStatus{ID: n.Pilot}
			pilots[n.Pilot] = p
			order = append(order, n.Pilot)
		}
		p.Nodes++
		p.CoresBusy += n.UsedCores
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

// busyCores sums the cores held and offered by the ledger's nodes.
func busyCores(v ledger.View) (busy, total int) {
	for _, n := range v.Nodes() {
		busy += n.UsedCores
		total += n.Cores
	}
	return busy, total
}
