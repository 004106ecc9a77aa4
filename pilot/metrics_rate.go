package pilot

import (
	"sync"
	"time"
)

// rateWindow is how far back throughput looks.
const rateWindow = 10 * time.Minute

// rate measures the leader's throughput: results written upstream (tasks
// and their core-seconds) over a sliding window, and utilisation as busy
// cores integrated over the time since this leader started, divided by the
// cores offered over the same time. It is fed by the upstream wrapper and by
// a sample of the ledger's cores once a second.
type rate struct {
	mu      sync.Mutex
	start   time.Time
	tasks   int
	coreS   float64
	busyS   float64 // ∫ busy cores dt
	offerS  float64 // ∫ total cores dt
	lastT   time.Time
	busy    int
	total   int
	samples []rateSample // oldest first, at most one per second, rateWindow long
}

type rateSample struct {
	t     time.Time
	tasks int
	coreS float64
}

// Throughput is what the leader measured since it took over.
type Throughput struct {
	SinceS           float64 `json:"since_s"`            // how long this leader has measured
	WindowS          float64 `json:"window_s"`           // the window of the rates below
	TasksPerH        float64 `json:"tasks_per_h"`        // results written upstream per hour
	CoreHoursPerH    float64 `json:"core_hours_per_h"`   // core-hours of those results per hour
	Utilization      float64 `json:"utilization"`        // busy core-seconds / offered core-seconds, since SinceS ago
	UtilizationNow   float64 `json:"utilization_now"`    // busy cores / total cores now
	ResultsWritten   int     `json:"results_written"`    // by this leader
	CoreHoursWritten float64 `json:"core_hours_written"` // by this leader
}

func newRate(now time.Time) *rate {
	return &rate{start: now, lastT: now, samples: []rateSample{{t: now}}}
}

// reset starts measuring again (a new term as leader).
func (r *rate) reset(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.start, r.lastT, r.samples = now, now, []rateSample{{t: now}}
	r.tasks, r.coreS, r.busyS, r.offerS, r.busy, r.total = 0, 0, 0, 0, 0, 0
}

func (r *rate) written(tasks int, coreS float64) {
	r.mu.Lock()
	r.tasks += tasks
	r.coreS += coreS
	r.mu.Unlock()
}

// cores records the cluster's busy and total cores at now.
func (r *rate) cores(now time.Time, busy, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if dt := now.Sub(r.lastT).Seconds(); dt > 0 {
		r.busyS += float64(r.busy) * dt
		r.offerS += float64(r.total) * dt
	}
	r.lastT, r.busy, r.total = now, busy, total
	if last := r.samples[len(r.samples)-1]; now.Sub(last.t) >= time.Second {
		r.samples = append(r.samples, rateSample{t: now, tasks: r.tasks, coreS: r.coreS})
	}
	cut := 0
	for cut < len(r.samples)-1 && now.Sub(r.samples[cut+1].t) >= rateWindow {
		cut++
	}
	r.samples = r.samples[cut:]
}

func (r *rate) snapshot(now time.Time) Throughput {
	r.mu.Lock()
	defer r.mu.Unlock()
	th := Throughput{SinceS: now.Sub(r.start).Seconds(), ResultsWritten: r.tasks, CoreHoursWritten: r.coreS / 3600}
	first := r.samples[0]
	if w := now.Sub(first.t); w > 0 {
		th.WindowS = w.Seconds()
		th.TasksPerH = float64(r.tasks-first.tasks) / w.Hours()
		th.CoreHoursPerH = (r.coreS - first.coreS) / 3600 / w.Hours()
	}
	busyS, offerS := r.busyS, r.offerS
	if dt := now.Sub(r.lastT).Seconds(); dt > 0 {
		busyS += float64(r.busy) * dt
		offerS += float64(r.total) * dt
	}
	if offerS > 0 {
		th.Utilization = busyS / offerS
	}
	if r.total > 0 {
		th.UtilizationNow = float64(r.busy) / float64(r.total)
	}
	return th
}
