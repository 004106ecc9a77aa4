package pilot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/pilot/runner"
	"github.com/pilot-hpc/pilot/scratchcache"
	"github.com/pilot-hpc/pilot/task"
)

// prefetchCores is a node's prefetch allowance (ledger.Node.Prefetch): the
// cores of attempts that may wait in its backlog. The leader's steward
// gives every node this and the node's executor accepts this much, so both
// agree without gossiping it. prefetchFactor × cores hides the round trip
// to the leader for short tasks; the leader fills it only with tasks
// expected to end within a second (coordinator's backlogMaxEst), so a
// backlog holds seconds of work, never hours.
func prefetchCores(cores int) int { return prefetchFactor * cores }

const prefetchFactor = 32

// Resolver turns a task that names a function ("fn") into the argv and
// environment of this site (the site config's functions table).
type Resolver func(task.Spec) (argv []string, env map[string]string, err error)

// executor runs the attempts the leader dispatches to this node: it takes
// each one's cores, looks its entry up in the scratch cache (a sealed
// entry is a hit: the cores go back and it is reported at once, never run
// again), runs it pinned in its work directory, gives the cores back as
// soon as the process ends, seals its output, and reports every step.
//
// It accepts attempts for up to its cores plus its prefetch allowance (the
// ledger's Node.Prefetch): those beyond the free cores wait here, in a
// local backlog, and start the moment cores free up, without a round trip
// to the leader (a retry waits for the leader to record its start first).
// Only running processes hold cores, so what runs never exceeds the node's
// cores (promise 3).
type executor struct {
	node, pilot string
	cores       *Cores
	queue       *coreQueue // hands out cores
	prefetch    int        // cores of attempts that may wait for cores here
	cache       *scratchcache.Cache
	spools      *runner.Spools // the tasks' stdout and stderr files
	spoolsOff   sync.Once      // the warning that they are off
	resolve     Resolver
	report      func(coordinator.Report)
	confirm     func(context.Context, coordinator.Report) error // report and wait until the leader applied it
	attempts    *attemptLog
	grace       time.Duration
	slack       time.Duration // tasks' timer slack (0: the agent's)
	log         *slog.Logger
	workers     *workers // the goroutines attempts run on
	env         []string // the agent's environment, each name once (runner.Request.Env)

	mu       sync.Mutex
	running  map[ledger.AttemptRef]*attempt // running or waiting for cores
	accepted int                            // the cores those need
	accepts  uint64                         // attempts accepted so far: their order
	finished recent                         // attempts that ran here lately: a resend is not run again
	draining bool
	wg       sync.WaitGroup
}

// recent is a bounded set of the attempts a node finished lately. A new
// leader resends every attempt the ledger still has assigned, including
// ones that finished here whose report is still on its way (the reporter
// never drops it): those are accepted and not run again.
type recent struct {
	set  map[ledger.AttemptRef]struct{}
	ring []ledger.AttemptRef
	next int
}

const recentAttempts = 4096

func (r *recent) add(ref ledger.AttemptRef) {
	if r.set == nil {
		r.set = make(map[ledger.AttemptRef]struct{}, recentAttempts)
		r.ring = make([]ledger.AttemptRef, 0, recentAttempts)
	}
	if len(r.ring) < recentAttempts {
		r.ring = append(r.ring, ref)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = ref
		r.next = (r.next + 1) % recentAttempts
	}
	r.set[ref] = struct{}{}
}

func (r *recent) has(ref ledger.AttemptRef) bool {
	_, ok := r.set[ref]
	return ok
}

// attempt is one attempt this node runs.
type attempt struct {
	work   coordinator.Work
	seq    uint64 // its place in the order of acceptance
	cancel context.CancelCauseFunc
	done   chan struct{}
	end    time.Time // when it is expected to finish; zero: unknown
}

// expectedEnd is when an attempt started at start should be over: its
// estimate with a tenth of slack, else its timeout; zero when it gives
// neither. A drain lets an attempt run on only when this is known and
// before the pilot ends.
func expectedEnd(s task.Spec, start time.Time) time.Time {
	switch {
	case s.EstS > 0:
		return start.Add(time.Duration(s.EstS * 1.1 * float64(time.Second)))
	case s.TimeoutS > 0:
		return start.Add(time.Duration(s.TimeoutS * float64(time.Second)))
	}
	return time.Time{}
}

// errCancelled and errDrained are the causes an attempt is stopped with.
var (
	errCancelled = errors.New("cancelled by the leader")
	errDrained   = errors.New("the pilot is draining")
)

// refusal is one attempt Accept did not start, and why.
type refusal struct {
	ref ledger.AttemptRef
	err error
}

// Accept starts the given attempts and returns those it refused. An
// attempt this node runs or lately finished is accepted again and not
// started twice (a leader may resend); one that needs more cores than the
// free cores and the free backlog, or that arrives while the node drains,
// is refused.
func (e *executor) Accept(work []coordinator.Work) []refusal {
	e.mu.Lock()
	defer e.mu.Unlock()
	var refused []refusal
	for _, w := range work {
		ref := ledger.AttemptRef{Task: w.Spec.ID, Attempt: w.Attempt}
		if e.draining {
			refused = append(refused, refusal{ref, fmt.Errorf("node %s is draining: %w", e.node, ledger.ErrDraining)})
			continue
		}
		if _, ok := e.running[ref]; ok || e.finished.has(ref) {
			continue
		}
		// A newer attempt of a task replaces an older one still here.
		for old, a := range e.running {
			if old.Task == ref.Task && old.Attempt < ref.Attempt {
				a.cancel(errCancelled)
			}
		}
		if limit := e.cores.Total() + e.prefetch; w.Spec.Cores > e.cores.Total() || e.accepted+w.Spec.Cores > limit {
			err := fmt.Errorf("%w: task %s attempt %d asks for %d, node %s holds %d of its %d cores and a backlog of %d", ErrNoCores,
				ref.Task, ref.Attempt, w.Spec.Cores, e.node, e.accepted, e.cores.Total(), e.prefetch)
			refused = append(refused, refusal{ref, err})
			continue
		}
		e.accepted += w.Spec.Cores
		ctx, cancel := context.WithCancelCause(context.Background())
		e.accepts++
		a := &attempt{work: w, seq: e.accepts, cancel: cancel, done: make(chan struct{})}
		a.end = expectedEnd(w.Spec, time.Now())
		e.running[ref] = a
		e.wg.Add(1)
		e.workers.run(func() { e.run(ctx, ref, a) })
	}
	return refused
}

// Cancel stops attempts; their failure is reported as infra.
func (e *executor) Cancel(refs []ledger.AttemptRef) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range refs {
		if a, ok := e.running[r]; ok {
			a.cancel(errCancelled)
		}
	}
}

// Running lists the attempts this node runs, sorted.
func (e *executor) Running() []ledger.AttemptRef {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]ledger.AttemptRef, 0, len(e.running))
	for r := range e.running {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Task != out[j].Task {
			return out[i].Task < out[j].Task
		}
		return out[i].Attempt < out[j].Attempt
	})
	return out
}

// Drain refuses new work, lets attempts that will finish before deadline
// run on, and stops the others (they are reported as infra failures, which
// do not spend their retries). It returns when every attempt is gone or
// ctx ends, and the scratch cache has put away what it kept for the next.
func (e *executor) Drain(ctx context.Context, deadline time.Time) {
	e.mu.Lock()
	e.draining = true
	for _, a := range e.running {
		if a.end.IsZero() || a.end.After(deadline) {
			a.cancel(errDrained)
		}
	}
	e.mu.Unlock()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		e.mu.Lock()
		for _, a := range e.running {
			a.cancel(errDrained)
		}
		e.mu.Unlock()
		<-done
	}
	e.cache.Close() // no scratch entry left parked beside its seal
}

func ownerKey(r ledger.AttemptRef) string { return r.Task + "#" + strconv.Itoa(r.Attempt) }

// run is one attempt from its cache lookup to its report.
func (e *executor) run(ctx context.Context, ref ledger.AttemptRef, a *attempt) {
	defer e.wg.Done()
	defer close(a.done)
	defer func() {
		e.releaseCores(ref)
		e.mu.Lock()
		delete(e.running, ref)
		e.accepted -= a.work.Spec.Cores
		e.finished.add(ref)
		e.mu.Unlock()
	}()
	spec := a.work.Spec
	rec := attemptRecord{Task: ref.Task, Attempt: ref.Attempt, Node: e.node, Pilot: e.pilot}
	r := e.execute(ctx, ref, a.seq, spec, &rec)
	if r.Kind == coordinator.ReportFailed && r.Class != ledger.FailFatal {
		if full, free := scratchFull(e.cache.Root()); full {
			// It most likely failed on the full disk, whatever step did.
			msg := e.waitForSpace(ctx, free, r.Error)
			r.Class, r.Error, r.Result.Error = ledger.FailInfra, msg, msg
		}
	}
	if rec.Start.IsZero() {
		rec.Start = time.Now()
	}
	if rec.End.IsZero() {
		rec.End = time.Now()
	}
	rec.Outcome = outcomeOf(r)
	e.attempts.write(rec)
	e.report(r)
}

// execute runs one attempt; rec gets the cores it held and when (from
// taking them to the end of its process).
func (e *executor) execute(ctx context.Context, ref ledger.AttemptRef, seq uint64, spec task.Spec, rec *attemptRecord) coordinator.Report {
	infra := func(format string, args ...any) coordinator.Report {
		msg := fmt.Sprintf(format, args...)
		return coordinator.Report{Kind: coordinator.ReportFailed, Task: ref.Task, Attempt: ref.Attempt, Class: ledger.FailInfra, Error: msg,
			Result: task.Result{ID: ref.Task, Node: e.node, Pilot: e.pilot, Error: msg, ExitCode: -1}}
	}
	argv, env := spec.Cmd, spec.Env
	if spec.Fn != "" {
		var err error
		if e.resolve == nil {
			return coordinator.Report{Kind: coordinator.ReportFailed, Task: ref.Task, Attempt: ref.Attempt, Class: ledger.FailFatal,
				Error:  fmt.Sprintf("task %s names function %q but this site has no functions table (give a site config with [functions])", ref.Task, spec.Fn),
				Result: task.Result{ID: ref.Task, Node: e.node, Pilot: e.pilot, ExitCode: -1}}
		}
		if argv, env, err = e.resolve(spec); err != nil {
			return coordinator.Report{Kind: coordinator.ReportFailed, Task: ref.Task, Attempt: ref.Attempt, Class: ledger.FailFatal,
				Error: err.Error(), Result: task.Result{ID: ref.Task, Node: e.node, Pilot: e.pilot, ExitCode: -1, Error: err.Error()}}
		}
	}
	run := spec
	run.Cmd, run.Env, run.Fn, run.Args = argv, env, "", nil

	alloc, sealed, lease, err := e.openEntry(ctx, ref, seq, spec)
	switch {
	case err != nil:
		return infra("%v", err)
	case sealed != nil:
		rec.Cache = task.CacheHit
		return coordinator.Report{Kind: coordinator.ReportCompleted, Task: ref.Task, Attempt: ref.Attempt, Result: task.Result{
			ID: ref.Task, State: task.StateDone, Cache: task.CacheHit, Node: e.node, Pilot: e.pilot,
			Value: sealed.Value, Output: sealed.Output,
		}}
	}
	if lease.Quarantined != "" {
		e.log.Warn("a sealed cache entry failed verification: quarantined, recomputing", "task", ref.Task, "quarantine", lease.Quarantined)
	}
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	stopKeep := lease.KeepLazily(ctx, func(err error) {
		stopRun(fmt.Errorf("scratch cache lease lost: %w", err))
	})
	rec.Cores, rec.CPUs, rec.Start = alloc.IDs, alloc.CPUs, time.Now()
	started := coordinator.Report{Kind: coordinator.ReportStarted, Task: ref.Task, Attempt: ref.Attempt}
	first := ref.Attempt == 1
	onStart := func(int) {
		e.attempts.started(startRecord{Task: ref.Task, Attempt: ref.Attempt, Node: e.node, Start: time.Now()})
		if first {
			e.report(started)
		}
	}
	// A first attempt starts at once and its start is reported on the way:
	// no round trip per task. A retry starts only once the ledger records
	// it running, so a task that kills its node is charged the crash (the
	// poison-task rule; a first attempt that may have started unrecorded
	// is named by the leader from its scratch cache entry, see
	// ledger.AgentLost).
	if !first {
		if err := e.confirm(runCtx, started); err != nil {
			stopKeep()
			lease.Release()
			return infra("task %s attempt %d on node %s: its start was never recorded by the leader: %v", ref.Task, ref.Attempt, e.node, err)
		}
	}
	out := runner.Run(runCtx, runner.Request{
		Spec: run, Attempt: ref.Attempt, Workdir: lease.WorkDir(), Fresh: lease.FreshWorkDir(), CPUs: alloc.CPUs,
		Env: e.env, Extra: lease.Env(), Grace: e.grace, TimerSlack: e.slack, OnStart: onStart, Spools: e.spools,
	})
	rec.End = time.Now() // before the cores go to the next attempt
	if err := e.spools.Off(); err != nil {
		e.spoolsOff.Do(func() { e.log.Warn("spools of task output are off", "err", err) })
	}
	e.releaseCores(ref)
	stopKeep()
	rec.Cache = task.CacheMiss
	res := out.Result(spec)
	res.Node, res.Pilot, res.Cache = e.node, e.pilot, task.CacheMiss
	res.CoreS = res.RuntimeS * float64(spec.Cores)
	switch out.Class {
	case runner.OK:
		sealed, err := lease.Seal(ctx, out.Value)
		if err != nil {
			lease.Release()
			return infra("seal the output of task %s: %v", ref.Task, err)
		}
		res.Value, res.Output = sealed.Value, sealed.Output
		return coordinator.Report{Kind: coordinator.ReportCompleted, Task: ref.Task, Attempt: ref.Attempt, Result: res}
	case runner.TaskFailed:
		lease.Release()
		return coordinator.Report{Kind: coordinator.ReportFailed, Task: ref.Task, Attempt: ref.Attempt, Class: ledger.FailTask, Error: out.Message(), Result: res}
	default:
		lease.Release()
		msg := out.Message()
		if cause := context.Cause(runCtx); cause != nil && !errors.Is(cause, context.Canceled) {
			msg = fmt.Sprintf("%s (%v)", msg, cause)
		}
		return coordinator.Report{Kind: coordinator.ReportFailed, Task: ref.Task, Attempt: ref.Attempt, Class: ledger.FailInfra, Error: msg, Result: res}
	}
}

// openEntry takes the attempt's cores, then looks its scratch cache entry
// up: a hit gives the cores back and returns the sealed entry; a miss
// returns the entry's lease with the cores held. The lease is taken only
// once the cores are, so an attempt waiting in a backlog holds no entry: if
// its node dies, its retry need not wait for the lease to go stale. While
// another attempt holds the entry (a task of the same content runs
// elsewhere) the cores go back and the attempt waits.
func (e *executor) openEntry(ctx context.Context, ref ledger.AttemptRef, seq uint64, spec task.Spec) (Allocation, *scratchcache.Sealed, *scratchcache.Lease, error) {
	wait := 50 * time.Millisecond
	logged := false
	for {
		alloc, err := e.acquireCores(ctx, ref, seq, spec.Cores)
		if err != nil {
			return Allocation{}, nil, nil, fmt.Errorf("task %s attempt %d never got its cores on node %s: %w", ref.Task, ref.Attempt, e.node, err)
		}
		sealed, lease, err := e.cache.Open(spec.ID, spec.Digest(), ref.Attempt)
		var held *scratchcache.HeldError
		if !errors.As(err, &held) {
			if sealed != nil || err != nil {
				e.releaseCores(ref)
			}
			if err != nil {
				err = fmt.Errorf("scratch cache: %w", err)
			}
			return alloc, sealed, lease, err
		}
		e.releaseCores(ref)
		if !logged {
			e.log.Info("waiting for a scratch cache entry another attempt holds", "task", ref.Task, "attempt", ref.Attempt,
				"holder_task", held.Task, "holder_attempt", held.Attempt, "stale_at", held.StaleAt)
			logged = true
		}
		d := min(wait, max(time.Until(held.StaleAt), time.Millisecond))
		wait = min(2*wait, 2*time.Second)
		select {
		case <-ctx.Done():
			return Allocation{}, nil, nil, fmt.Errorf("scratch cache: %w (stopped waiting: %v)", err, context.Cause(ctx))
		case <-time.After(d):
		}
	}
}

// acquireCores waits until the node has k free cores for the attempt, or
// ctx ends (a cancel, a drain). Waiting attempts get cores in the order
// they were accepted (see coreQueue).
func (e *executor) acquireCores(ctx context.Context, ref ledger.AttemptRef, seq uint64, k int) (Allocation, error) {
	return e.queue.acquire(ctx, ownerKey(ref), seq, k)
}

// releaseCores gives an attempt's cores back to the waiting attempts.
// Releasing twice is harmless.
func (e *executor) releaseCores(ref ledger.AttemptRef) {
	e.queue.release(ownerKey(ref))
}
