package coordinator

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/coordinator/sched"
	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// Dispatcher carries the leader's decisions to the agents. Package pilot
// implements it over the agent RPC. Both methods block until the node
// answers or ctx ends, and are called from several goroutines at once.
type Dispatcher interface {
	// Dispatch asks a node to run attempts and returns the ones it
	// refused. An error means that none of them is known to have started.
	// The leader requeues refused attempts as infra failures. A node that
	// already runs an attempt accepts it again.
	Dispatch(ctx context.Context, node ledger.Node, work []Work) (refused []ledger.AttemptRef, err error)
	// Cancel asks a node to stop attempts (a flush, a revoked lease).
	Cancel(ctx context.Context, node ledger.Node, attempts []ledger.AttemptRef) error
}

// Work is one attempt of one task, as the leader sends it to a node.
type Work struct {
	Spec    task.Spec `msgpack:"spec"`
	Attempt int       `msgpack:"attempt"`
}

// LeaderConfig configures the leader loop.
type LeaderConfig struct {
	// Cluster names this cluster to the upstream queue (its leases).
	Cluster string
	// Queue is the campaign's upstream.
	Queue upstream.Queue
	// Dispatch reaches the agents.
	Dispatch Dispatcher
	// Sched tunes Place; Shapes are pilots the site may still start (a task
	// that fits none of them nor any live node is unschedulable). With no
	// shapes, only live nodes count.
	Sched  sched.Config
	Shapes []sched.Shape
	// LeaseTTL is how long upstream keeps a task for this cluster without
	// a renewal. Default 2 minutes.
	LeaseTTL time.Duration
	// WindowFactor sizes the ledger's window: the leader leases until the
	// queued tasks need this many times the cluster's cores. Default 2.
	WindowFactor float64
	// Interval is the longest pause between two rounds; reports and
	// membership changes start a round at once. Default 200ms.
	Interval time.Duration
	// StaleAssignment is how long an assignment may stay unstarted and
	// missing from its node's heartbeat before it is requeued. Default 10s.
	StaleAssignment time.Duration
	// CrashLimit is the poison-task rule of AgentLost (0: the default).
	CrashLimit int
	Logger     *slog.Logger
	// Now is the clock written into commands. Default time.Now.
	Now func() time.Time
}

func (c *LeaderConfig) withDefaults() {
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 2 * time.Minute
	}
	if c.WindowFactor <= 0 {
		c.WindowFactor = 2
	}
	if c.Interval <= 0 {
		c.Interval = 200 * time.Millisecond
	}
	if c.StaleAssignment <= 0 {
		c.StaleAssignment = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sched == (sched.Config{}) {
		c.Sched = sched.DefaultConfig()
	}
}

// Leader is what runs on the Raft leader: one loop leases windows of
// tasks from upstream and ingests them, writes final results upstream and
// acknowledges them, and renews its leases; another places queued tasks
// with the pure scheduler and dispatches them; reports from agents are
// committed as they come.
//
// One Leader serves one node for its whole life: Run is called each time the
// node wins an election and returns when it loses leadership. Report and
// Heartbeat are safe to call at any time from RPC handlers; on a follower
// they return a *NotLeaderError.
type Leader struct {
	node *Node
	cfg  LeaderConfig
	log  *slog.Logger
	// kickPlace and kickUpstream start a round of each loop now.
	kickPlace, kickUpstream chan struct{}
	// pending is place's buffer of queued tasks, reused round after round;
	// only the placement loop touches it.
	pending []sched.Task

	mu        sync.Mutex
	estimator *sched.Estimator
	held      []sched.Reservation // the last plan's reservations for starved wide tasks
	waiting   map[sched.Reason]int
	upErr     error     // the last upstream error, nil when it answered
	upRetryAt time.Time // no lease before this (backoff)
	upBackoff time.Duration
	drained   bool // upstream answered an empty lease since the last ingest
	// backlogging: the last plan put short tasks in nodes' backlogs, so
	// the window counts the backlogs' room too.
	backlogging bool
	// walltimeCores: the cores of the queued tasks the last plan left
	// that cannot use the room there is (sched.Plan.Unfit: no live pilot
	// has time left for them, or they are wider than every gap while
	// cores idle); the window does not count them (sched.LeaseRoom).
	walltimeCores int
	renewedAt     time.Time
	ackedAt       time.Time // when results were last written upstream
	// unreachable holds nodes a dispatch could not reach, until when
	// Place leaves them out (membership takes seconds to declare a node
	// dead; meanwhile each round would assign to it and requeue again).
	unreachable map[string]time.Time
}

// NewLeader makes the leader loop of a node.
func NewLeader(node *Node, cfg LeaderConfig) *Leader {
	cfg.withDefaults()
	return &Leader{
		node:         node,
		cfg:          cfg,
		log:          cfg.Logger.With("node", node.ID()),
		kickPlace:    make(chan struct{}, 1),
		kickUpstream: make(chan struct{}, 1),
		estimator:    sched.DefaultEstimator(),
	}
}

// Run leads until ctx ends or this node loses leadership, then returns nil.
// It returns an error only when it cannot start (the upstream refuses this
// cluster for good).
func (l *Leader) Run(ctx context.Context) error {
	if err := l.node.Barrier(ctx); err != nil {
		return nil // lost leadership before starting
	}
	if c, ok := l.cfg.Queue.(interface{ Claim() (uint64, error) }); ok {
		epoch, err := c.Claim()
		if err != nil {
			return err
		}
		l.log.Info("leading: claimed the campaign's state", "epoch", epoch)
	}
	// Attempts a previous leader committed but may never have sent: send
	// them again (agents accept a known attempt again).
	l.redispatch(ctx, l.node.Ledger().View().InState(ledger.Assigned))

	// Two loops: placement never waits on upstream I/O (a queue server
	// that hangs or fails holds up leases and results, not the placement
	// of what the ledger already holds).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	upstreamDone := make(chan struct{})
	go func() {
		defer close(upstreamDone)
		defer cancel()
		l.loop(ctx, l.kickUpstream, l.upstreamRound)
	}()
	l.loop(ctx, l.kickPlace, l.placeRound)
	cancel()
	<-upstreamDone
	return nil
}

// loop runs round on every kick and at least every Interval, while this
// node leads and ctx lasts.
func (l *Leader) loop(ctx context.Context, kick <-chan struct{}, round func(context.Context)) {
	tick := time.NewTicker(l.cfg.Interval)
	defer tick.Stop()
	for {
		if !l.node.IsLeader() {
			return
		}
		round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-tick.C:
		}
	}
}

// Kick starts both loops' rounds now (a member joined, a report arrived).
func (l *Leader) Kick() {
	kick(l.kickPlace)
	kick(l.kickUpstream)
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// upstreamRound writes results upstream, leases more work and renews the
// leases. Every step reads a fresh view. What it ingests starts a
// placement round.
func (l *Leader) upstreamRound(ctx context.Context) {
	l.steps(ctx, l.ack, l.pull, l.renew)
}

// placeRound places queued tasks. A plan that starts filling the nodes'
// backlogs makes the window grow to their room: it starts an upstream
// round at once, not an Interval later (at the start of a campaign of
// short tasks that is the difference between a few tasks to choose from
// and enough).
func (l *Leader) placeRound(ctx context.Context) {
	l.mu.Lock()
	before := l.backlogging
	l.mu.Unlock()
	l.steps(ctx, l.place, l.releaseIdle)
	l.mu.Lock()
	after := l.backlogging
	l.mu.Unlock()
	if after && !before {
		kick(l.kickUpstream)
	}
}

func (l *Leader) steps(ctx context.Context, steps ...func(context.Context) error) {
	for _, step := range steps {
		if err := step(ctx); err != nil {
			if errors.Is(err, ErrNotLeader) || ctx.Err() != nil {
				return
			}
			l.log.Warn("leader round", "err", err)
		}
	}
}

// propose commits a command stamped with the leader's clock.
func (l *Leader) propose(ctx context.Context, cmd ledger.Command) (*ledger.Outcome, error) {
	return l.node.Propose(ctx, cmd)
}

func (l *Leader) now() int64 { return l.cfg.Now().UnixNano() }

// Waiting returns why queued tasks waited in the last plan, by reason.
func (l *Leader) Waiting() map[sched.Reason]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[sched.Reason]int, len(l.waiting))
	for k, v := range l.waiting {
		out[k] = v
	}
	return out
}

// UpstreamError is the last error the upstream returned, nil when its last
// answer was good.
func (l *Leader) UpstreamError() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.upErr
}
