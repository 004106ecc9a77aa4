package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/coordinator/sched"
)

// epoch is the fake clock's zero: every time in the ledger is epoch plus
// simulated time.
var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// ErrBroken wraps every error of a run that started: a refused command, a
// broken invariant or work that never ends. Errors without it are bad
// configurations or workload files.
var ErrBroken = errors.New("the simulation broke")

// Run simulates one configuration to the end of its work and returns its
// figures. Any error (a refused command, a broken invariant, work that
// never ends) names the seed, which replays the run exactly. ctx cancels a
// run between two instants.
func Run(ctx context.Context, cfg Config) (Result, error) {
	fail := func(err error) (Result, error) {
		return Result{}, fmt.Errorf("%w: sim seed %d (policy %s, workload %s): %w; replay it with the same flags and --seed %d", ErrBroken, cfg.Seed, cfg.Policy, cfg.workloadName(), err, cfg.Seed)
	}
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	jobs, err := Workload(cfg)
	if err != nil {
		return Result{}, err
	}
	wall := time.Now()
	r := newRun(cfg, jobs)
	if err := r.loop(ctx); err != nil {
		return fail(err)
	}
	if err := r.book.check(); err != nil {
		return fail(err)
	}
	if c := r.book.l.Counts(); c.Tasks() != 0 {
		return fail(fmt.Errorf("the ledger still holds %d tasks after every result was acknowledged: %+v", c.Tasks(), c))
	}
	res := r.result()
	res.SimWallS = time.Since(wall).Seconds()
	return res, nil
}

// simNode is a node the simulation started.
type simNode struct {
	id     string
	pilot  int32
	joined time.Duration
	left   time.Duration // when it died or its pilot ended; -1 while alive
}

type pilot struct {
	id    string
	slot  int32
	nodes []int32
}

// run is one simulation in progress.
type run struct {
	cfg     Config
	jobs    []Job
	jobOf   map[string]int32
	keys    []string // learned-runtime key of each job
	book    *book
	q       events
	now     time.Duration
	horizon time.Duration
	next    int // the next job still upstream
	est     *sched.Estimator
	shapes  []sched.Shape

	slots     []*rand.Rand // one random stream per pilot slot
	slotNodes []int
	// slotPilot is the live pilot of each slot (-1: none); slotQueued
	// says a pilot of the slot waits in the batch queue.
	slotPilot  []int32
	slotQueued []bool
	pilots     []pilot
	pilotEnds  []time.Duration  // by pilot
	pilotOf    map[string]int32 // by pilot id
	nodes      []simNode
	nodeOf     map[string]int32
	// running holds the jobs running on each node and when each is
	// expected to end (its estimate, learned or given, from its start;
	// -1 with no estimate), which the leader hands Place as BusyUntil.
	running [][]int32
	expect  []time.Duration // by job

	held []sched.Reservation // the last plan's, handed to the next
	// unfit is the cores of the queued tasks this round's plan left that
	// cannot use the room there is (sched.Plan.Unfit); the window does
	// not count them.
	unfit int
	// The queued tasks as last read, and their jobs; spare and spareJob
	// are the buffers of the read before, reused.
	pend, spare       []sched.Task
	pendJob, spareJob []int32
	attempt           []int // each job's current attempt, as last read from the ledger
	acks              []string
	final             int
	m                 metrics
	idle              idleMeter
}

func newRun(cfg Config, jobs []Job) *run {
	r := &run{
		cfg: cfg, jobs: jobs, book: newBook(cfg.CheckEvery),
		jobOf: make(map[string]int32, len(jobs)), keys: make([]string, len(jobs)),
		attempt: make([]int, len(jobs)), nodeOf: map[string]int32{}, pilotOf: map[string]int32{}, expect: make([]time.Duration, len(jobs)),
		est:    sched.DefaultEstimator(),
		shapes: []sched.Shape{{Cores: cfg.Cores, MemMB: cfg.MemMB, Walltime: cfg.Walltime}},
		m:      newMetrics(len(jobs)),
	}
	for i, j := range jobs {
		r.jobOf[j.Spec.ID] = int32(i)
		r.keys[i] = sched.ShapeKey(j.Spec)
	}
	r.horizon = 20*lowerBound(jobs, cfg.Nodes*cfg.Cores) + 10*(cfg.Walltime+cfg.QueueWait)
	for s := range cfg.Pilots {
		r.slots = append(r.slots, rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(s)+1)))
		r.slotNodes = append(r.slotNodes, cfg.Nodes/cfg.Pilots+btoi(s < cfg.Nodes%cfg.Pilots))
		r.slotPilot, r.slotQueued = append(r.slotPilot, -1), append(r.slotQueued, true)
		r.q.push(event{at: r.queueWait(int32(s)), kind: evPilotArrive, slot: int32(s)})
	}
	return r
}

func (r *run) loop(ctx context.Context) error {
	for r.final < len(r.jobs) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.q.len() == 0 {
			return fmt.Errorf("nothing left to happen with %d of %d tasks unfinished", len(r.jobs)-r.final, len(r.jobs))
		}
		r.now = r.q.peek().at
		if r.now > r.horizon {
			return fmt.Errorf("%d of %d tasks still unfinished after %s of simulated time (20 times the lower bound)", len(r.jobs)-r.final, len(r.jobs), r.now)
		}
		for r.q.len() > 0 && r.q.peek().at == r.now {
			if err := r.handle(r.q.pop()); err != nil {
				return fmt.Errorf("at %s: %w", r.now, err)
			}
			r.m.events++
		}
		for again := true; again; {
			var err error
			if again, err = r.round(); err != nil {
				return fmt.Errorf("at %s: scheduling round: %w", r.now, err)
			}
		}
	}
	if len(r.acks) > 0 {
		_, err := r.book.apply(ledger.Acked{At: r.at(), Tasks: r.acks})
		return err
	}
	return nil
}

func (r *run) handle(e event) error {
	switch e.kind {
	case evTaskEnd:
		return r.taskEnd(e)
	case evNodeLost:
		return r.nodeLost(e.node)
	case evPilotEnd:
		return r.pilotEnd(e.pilot)
	case evPilotArrive:
		return r.pilotArrive(e.slot, int(e.nodes))
	}
	return fmt.Errorf("unknown event kind %d", e.kind)
}

// taskEnd completes an attempt that ran its true runtime, unless it was
// killed (and maybe restarted) meanwhile.
func (r *run) taskEnd(e event) error {
	j := r.jobs[e.job]
	t, ok := r.book.view().Task(j.Spec.ID)
	if !ok || t.State != ledger.Running || t.Attempt != e.attempt {
		return nil
	}
	n := r.nodeOf[t.Node]
	r.running[n] = slices.DeleteFunc(r.running[n], func(x int32) bool { return x == e.job })
	out, err := r.book.apply(ledger.Complete{At: r.at(), Items: []ledger.Completion{{
		Task: j.Spec.ID, Attempt: e.attempt,
		Result: taskResult(j),
	}}})
	if err != nil {
		return err
	}
	r.finals(out)
	return nil
}

// nodeLost kills a node: the ledger requeues its tasks (or fails a task
// that has now been on too many dying nodes).
func (r *run) nodeLost(n int32) error {
	if r.nodes[n].left >= 0 {
		return nil
	}
	r.m.nodesLost++
	r.m.lossKills += r.kill(n)
	r.nodes[n].left = r.now
	out, err := r.book.apply(ledger.AgentLost{At: r.at(), Node: r.nodes[n].id})
	if err != nil {
		return err
	}
	r.finals(out)
	return nil
}

// pilotEnd reaches a pilot's walltime: Slurm kills what still runs, which
// goes back to the queue as an infrastructure failure, and the nodes
// leave. The launcher decides whether a pilot takes its place.
func (r *run) pilotEnd(p int32) error {
	if r.slotPilot[r.pilots[p].slot] != p {
		return nil // released before its walltime (release.go)
	}
	var fails []ledger.Failure
	var lost []ledger.Command
	v := r.book.view()
	for _, n := range r.pilots[p].nodes {
		if r.nodes[n].left >= 0 {
			continue
		}
		for _, t := range v.OnNode(r.nodes[n].id) {
			fails = append(fails, ledger.Failure{Task: t.Spec.ID, Attempt: t.Attempt, Class: ledger.FailInfra, Error: "killed at the pilot's walltime"})
		}
		r.m.walltimeKills += r.kill(n)
		r.nodes[n].left = r.now
		lost = append(lost, ledger.AgentLost{At: r.at(), Node: r.nodes[n].id})
	}
	cmds := lost
	if len(fails) > 0 {
		cmds = append([]ledger.Command{ledger.Fail{At: r.at(), Items: fails}}, lost...)
	}
	out, err := r.book.apply(cmds...)
	if err != nil {
		return err
	}
	r.finals(out)
	slot := r.pilots[p].slot
	r.slotPilot[slot] = -1
	if r.final < len(r.jobs) {
		r.launch(slot)
	}
	return nil
}

// kill counts the core-seconds of the attempts running on node n as
// wasted and returns how many there were.
func (r *run) kill(n int32) int {
	tasks := r.book.view().OnNode(r.nodes[n].id)
	for _, t := range tasks {
		since := time.Unix(0, t.StartedAt).Sub(epoch)
		r.m.wasted += float64(t.Spec.Cores) * (r.now - since).Seconds()
	}
	r.running[n] = nil
	return len(tasks)
}

// pilotArrive starts a pilot of nodes nodes (0: the slot's) in a slot:
// its nodes join, some are doomed to die before its walltime, and its end
// is on the agenda.
func (r *run) pilotArrive(slot int32, nodes int) error {
	rng := r.slots[slot]
	p := int32(len(r.pilots))
	pl := pilot{id: fmt.Sprintf("p%04d", p), slot: slot}
	end := r.now + r.cfg.Walltime
	var cmds []ledger.Command
	if nodes <= 0 || nodes > r.slotNodes[slot] {
		nodes = r.slotNodes[slot]
	}
	for i := range nodes {
		n := int32(len(r.nodes))
		id := fmt.Sprintf("%s-n%03d", pl.id, i)
		r.nodes = append(r.nodes, simNode{id: id, pilot: p, joined: r.now, left: -1})
		r.nodeOf[id] = n
		r.running = append(r.running, nil)
		pl.nodes = append(pl.nodes, n)
		cmds = append(cmds, ledger.AgentJoined{At: r.at(), Node: ledger.NodeInfo{
			ID: id, Cores: r.cfg.Cores, MemMB: r.cfg.MemMB,
			Pilot: pl.id, PilotEnd: epoch.Add(end).UnixNano(),
		}})
		if rng.Float64() < r.cfg.NodeLoss {
			r.q.push(event{at: r.now + time.Duration(rng.Int64N(int64(r.cfg.Walltime))), kind: evNodeLost, node: n})
		}
	}
	r.pilots = append(r.pilots, pl)
	r.pilotOf[pl.id] = p
	r.pilotEnds = append(r.pilotEnds, end)
	r.slotPilot[slot], r.slotQueued[slot] = p, false
	r.q.push(event{at: end, kind: evPilotEnd, pilot: p})
	_, err := r.book.apply(cmds...)
	return err
}

// busyUntil is when the tasks running on a node are expected to end;
// zero when nothing runs or one of them has no estimate.
func (r *run) busyUntil(node string) time.Time {
	var last time.Duration
	for _, j := range r.running[r.nodeOf[node]] {
		if r.expect[j] < 0 {
			return time.Time{}
		}
		last = max(last, r.expect[j])
	}
	if last == 0 {
		return time.Time{}
	}
	return epoch.Add(last)
}

// noteRunning tells the scheduler's nodes what runs on them and when it
// is expected to end (sched.Node.AddTask), as the leader does.
func (r *run) noteRunning(nodes []sched.Node) {
	now := epoch.Add(r.now)
	for i := range nodes {
		for _, j := range r.running[r.nodeOf[nodes[i].ID]] {
			var end time.Time
			if r.expect[j] >= 0 {
				end = epoch.Add(r.expect[j])
			}
			nodes[i].AddTask(r.jobs[j].Spec.Cores, end, now)
		}
	}
}

// expectEnd is when job j, starting now, is expected to end, by the
// leader's rule (sched.ExpectedEnd); -1 when nothing is known.
func (r *run) expectEnd(j int32) time.Duration {
	end, ok := sched.ExpectedEnd(epoch.Add(r.now), seconds(r.jobs[j].Spec.EstS), r.keys[j], r.est)
	if !ok {
		return -1
	}
	return end.Sub(epoch)
}
