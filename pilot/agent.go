package pilot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pilot-hpc/pilot/authconn"
	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/pilot/member"
	"github.com/pilot-hpc/pilot/pilot/rpc"
	"github.com/pilot-hpc/pilot/pilot/runner"
	"github.com/pilot-hpc/pilot/scratchcache"
	"github.com/pilot-hpc/pilot/scratchcache/stage"
	"github.com/pilot-hpc/pilot/upstream"
)

// agent is one running node: the parts of this package wired together.
type agent struct {
	cfg     Config
	log     *slog.Logger
	key     []byte
	raft    *coordinator.Node
	members *member.Membership
	exec    *executor
	reports *reporter
	rpcSrv  *rpc.Server
	disp    *dispatcher
	steward *steward
	obs     *observer // status HTTP server and metrics
	// membersChanged wakes the steward when gossip reports a change, so
	// a new agent takes work at once, not at the steward's next tick.
	membersChanged chan struct{}

	mu      sync.Mutex
	queue   upstream.Queue
	current *coordinator.Leader // set while this node leads
}

// Drain is sent on a channel given to Run to make the agent drain now
// (SIGUSR1 from Slurm before the walltime).
type Drain struct{}

// Run runs one agent until ctx ends or drain receives, then drains: it
// takes no new task, hands leadership and its vote to nodes that stay, lets
// running tasks finish when they can before the pilot ends (others are
// stopped and requeued as infra failures, which spend no retry), and leaves
// the cluster. It returns nil after a clean drain.
func Run(ctx context.Context, cfg Config, drain <-chan Drain) error {
	if err := cfg.withDefaults(); err != nil {
		return err
	}
	a, err := start(ctx, cfg)
	if err != nil {
		return err
	}
	return a.serve(ctx, drain)
}

func start(ctx context.Context, cfg Config) (a *agent, err error) {
	a = &agent{cfg: cfg, log: cfg.Logger.With("node", cfg.Name), membersChanged: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	for _, dir := range []string{cfg.StateDir, cfg.DataDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("make directory: %w", err)
		}
	}
	if a.key, err = authconn.LoadOrCreateKey(cfg.keyFile()); err != nil {
		return nil, err
	}
	res, err := DetectResources(ctx, cfg.Resources)
	if err != nil {
		return nil, err
	}
	cores, err := NewCores(res.Cores, res.CPUs)
	if err != nil {
		return nil, err
	}
	store := cfg.Store
	if store == nil {
		if store, err = stage.FileStore(filepath.Join(cfg.StateDir, "outputs")); err != nil {
			return nil, err
		}
	}
	// On one machine a dead agent's scratch leases go stale sooner, so its
	// tasks' retries wait seconds, not minutes, for their entries.
	var scratchTTL time.Duration
	if cfg.Loopback {
		scratchTTL = 10 * time.Second
	}
	cache, err := scratchcache.New(scratchcache.Config{Root: cfg.ScratchRoot, Store: store, LeaseTTL: scratchTTL, Logger: a.log})
	if err != nil {
		return nil, err
	}
	attempts, err := openAttemptLog(cfg.DataDir, a.log)
	if err != nil {
		return nil, fmt.Errorf("attempt log: %w", err)
	}
	heartbeat := 2 * time.Second
	if cfg.Loopback {
		heartbeat = 500 * time.Millisecond
	}
	a.reports = newReporter(cfg.Name, heartbeat, a.log)
	a.exec = &executor{
		node: cfg.Name, pilot: cfg.Pilot, cores: cores, queue: &coreQueue{cores: cores}, prefetch: prefetchCores(res.Cores), cache: cache, spools: runner.NewSpools(cache.SpoolDir()), resolve: cfg.Resolve,
		report: a.reports.add, confirm: a.reports.confirm, attempts: attempts, grace: cfg.Grace, slack: cfg.TaskTimerSlack, log: a.log, workers: newWorkers(), env: runner.LastOfEach(os.Environ()),
		running: map[ledger.AttemptRef]*attempt{},
	}
	a.reports.running = func() []rpc.TaskRef { return toRefs(a.exec.Running()) }
	a.reports.cancel = func(refs []rpc.TaskRef) { a.exec.Cancel(fromRefs(refs)) }
	a.reports.covered = a.exec.queue.hasWaiting
	a.reports.send = a.sendReports

	addrs := &raftAddrs{}
	a.raft, err = coordinator.Open(coordinator.Config{
		ID: cfg.Name, Dir: filepath.Join(cfg.DataDir, "raft"), Bind: net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.RaftPort)),
		WrapConn: a.authenticate, Timeouts: cfg.timeouts(), Logger: cfg.Logger, Resolve: addrs.lookup,
		SnapshotThreshold: cfg.SnapshotThreshold, SnapshotInterval: cfg.snapshotInterval(), TrailingLogs: cfg.SnapshotThreshold,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.RPCPort)))
	if err != nil {
		return nil, fmt.Errorf("agent RPC listener: %w", err)
	}
	a.rpcSrv = rpc.NewServer(a.key, a.handler(), a.log)
	go a.rpcSrv.Serve(ln)
	a.disp = &dispatcher{self: cfg.Name, key: a.key, cl: map[string]*rpc.Client{}}

	meta := member.Meta{
		Cores: res.Cores, MemMB: res.MemMB, Pilot: cfg.Pilot, RPCAddr: ln.Addr().String(),
		RaftAddr: a.raft.Addr(), Role: member.Role("worker"), Version: Version,
	}
	if !cfg.End.IsZero() {
		meta.PilotEnd = cfg.End.Unix()
	}
	a.members, err = member.Start(member.Config{
		Name: cfg.Name, BindAddr: cfg.Bind, BindPort: cfg.GossipPort, Key: a.key,
		Meta: meta, Timing: cfg.timing(), Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	addrs.use(a.members.Members)
	if a.obs, err = startObserver(a); err != nil {
		return nil, err
	}
	a.steward = &steward{raft: a.raft, members: a.members, voters: cfg.Voters, took: cache.Took, now: func() int64 { return time.Now().UnixNano() }, log: a.log}
	a.log.Info("agent started", "pilot", cfg.Pilot, "cores", res.Cores, "cores_from", res.CoresFrom,
		"mem_mb", res.MemMB, "gossip", a.members.Addr(), "raft", a.raft.Addr(), "rpc", meta.RPCAddr)
	return a, a.join(ctx)
}

// Version is the binary's version, gossiped in the node metadata; the
// command sets it at start.
var Version = "dev"

// authenticate runs the campaign-key handshake on every Raft connection.
func (a *agent) authenticate(conn net.Conn, isDialer bool) (net.Conn, error) {
	var err error
	if isDialer {
		err = authconn.Client(conn, a.key)
	} else {
		err = authconn.Server(conn, a.key)
	}
	if err != nil {
		return nil, err
	}
	return conn, nil
}

// join finds the live cluster (seeds, else the members file) or, when this
// agent may bootstrap and nobody answers, starts a new one.
func (a *agent) join(ctx context.Context) error {
	deadline := time.Now().Add(a.cfg.JoinTimeout)
	self := a.members.Addr()
	// Agents started together look for each other: retry soon at first.
	retry := 20 * time.Millisecond
	for {
		seeds := a.cfg.Seeds
		if len(seeds) == 0 {
			fromFile, err := member.ReadMembersFile(a.cfg.membersFile())
			if err != nil {
				a.log.Warn("members file", "err", err)
			}
			seeds = fromFile
		}
		var others []string
		for _, s := range seeds {
			if s != self {
				others = append(others, s)
			}
		}
		if len(others) > 0 {
			if n, err := a.members.Join(others); n > 0 {
				a.log.Info("joined the campaign's cluster", "seeds_answered", n)
				return nil
			} else if err != nil {
				a.log.Debug("join", "err", err)
			}
		}
		if a.cfg.Bootstrap {
			a.log.Info("no live cluster answered: starting a new one")
			if err := a.raft.Bootstrap([]coordinator.Server{{ID: a.cfg.Name, Addr: a.raft.Addr(), Voter: true}}); err != nil {
				return err
			}
			return member.WriteMembersFile(a.cfg.membersFile(), []string{self}, a.cfg.Name, time.Now())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no live cluster found within %s (seeds %v, members file %s) and this agent may not start one: start the first agent with --bootstrap", a.cfg.JoinTimeout, seeds, a.cfg.membersFile())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retry):
		}
		retry = min(2*retry, 250*time.Millisecond)
	}
}

// serve runs the agent's loops until ctx ends or a drain is asked for.
func (a *agent) serve(ctx context.Context, drain <-chan Drain) error {
	defer a.close()
	loops, stopLoops := context.WithCancel(context.Background())
	defer stopLoops()
	go a.reports.run(loops)

	var endTimer <-chan time.Time
	if !a.cfg.End.IsZero() {
		endTimer = time.After(time.Until(a.cfg.End.Add(-a.cfg.DrainMargin)))
	}
	check := time.NewTicker(a.cfg.timeouts().Heartbeat)
	defer check.Stop()
	syncing := make(chan struct{}, 1) // one gossip sync at a time
	var lead context.CancelFunc
	stopLeading := func() {
		if lead != nil {
			lead()
			lead = nil
			a.setLeading(nil)
		}
	}
	defer stopLeading()
	why := ""
	for why == "" {
		select {
		case <-ctx.Done():
			why = "stopped"
		case <-drain:
			why = "drain signal"
		case <-endTimer:
			why = "pilot end is near"
		case ev := <-a.members.Events():
			a.log.Debug("membership", "event", ev.Kind.String(), "member", ev.Node.Name)
			if l := a.leading(); l != nil {
				l.Kick()
			}
			select {
			case a.membersChanged <- struct{}{}:
			default:
			}
		case <-a.raft.LeaderCh():
		case <-check.C:
			if a.released() {
				why = "released: nothing left that could run on this pilot"
			}
			// A sync waits out memberlist's TCP timeout (10 s) on a member
			// cut off from this node: not in this loop, which must take up
			// leadership at once (chaos leader-partition: a new Raft
			// leader began leading 9 s late).
			select {
			case syncing <- struct{}{}:
				go func() {
					defer func() { <-syncing }()
					a.syncIfLeaderless()
				}()
			default:
			}
		}
		switch isLeader := a.raft.IsLeader(); {
		case isLeader && lead == nil:
			lctx, cancel := context.WithCancel(loops)
			lead = cancel
			if err := a.lead(lctx); err != nil {
				a.log.Error("cannot lead", "err", err)
				stopLeading()
			}
		case !isLeader && lead != nil:
			a.log.Info("lost leadership")
			stopLeading()
		}
	}
	a.log.Info("draining", "reason", why)
	return a.drain(stopLeading)
}

// syncIfLeaderless exchanges gossip state with others while this node's
// Raft knows no leader. A node that others declared dead while it was
// stopped or starved, and that the leader then dropped from Raft, sits
// leaderless: its refutation may not reach the leader's gossip, which then
// sees it alive (and adds it back) only at the periodic exchange, 15-30 s
// later; the sync makes that now.
func (a *agent) syncIfLeaderless() {
	if id, _ := a.raft.Leader(); id != "" {
		return
	}
	n, err := a.members.Sync()
	switch {
	case err != nil:
		a.log.Debug("no leader known and no member answered a gossip sync", "err", err)
	case n == 0:
		a.rejoin()
	}
}

// rejoin looks for the cluster again, in the seeds and the members file,
// when this node knows no leader and no other member: an agent restarted
// on its data after the others had dropped it is looked for by no one
// (chaos crash-persist: the first agent, killed a second after the start
// and restarted, found a members file that listed only itself and sat
// alone while the rest went on).
func (a *agent) rejoin() {
	seeds := a.cfg.Seeds
	if fromFile, err := member.ReadMembersFile(a.cfg.membersFile()); err == nil {
		seeds = append(slices.Clone(seeds), fromFile...)
	}
	seeds = slices.DeleteFunc(seeds, func(s string) bool { return s == a.members.Addr() })
	if len(seeds) == 0 {
		return
	}
	if n, err := a.members.Join(seeds); n > 0 {
		a.log.Info("alone and leaderless: joined the members found again", "seeds_answered", n)
	} else {
		a.log.Debug("alone and leaderless: no member found", "err", err)
	}
}

// lead starts the leader loop and the steward for this term.
func (a *agent) lead(ctx context.Context) error {
	q, err := a.openQueue()
	if err != nil {
		return err
	}
	l := coordinator.NewLeader(a.raft, coordinator.LeaderConfig{
		Cluster: a.cfg.Cluster, Queue: a.obs.wrapQueue(q), Dispatch: a.obs.disp, Sched: a.cfg.Sched, Shapes: a.cfg.Shapes,
		LeaseTTL: a.cfg.LeaseTTL, Logger: a.cfg.Logger,
	})
	a.setLeading(l)
	a.obs.leading(ctx)
	a.log.Info("leading the cluster", "term", a.raft.Raft().CurrentTerm())
	go func() {
		if err := l.Run(ctx); err != nil {
			a.log.Error("leader loop", "err", err)
		}
	}()
	go a.stewardLoop(ctx, l)
	return nil
}

// stewardLoop reconciles membership, Raft voters and the members file
// while this node leads.
func (a *agent) stewardLoop(ctx context.Context, l *coordinator.Leader) {
	tick := time.NewTicker(a.cfg.timeouts().Heartbeat)
	defer tick.Stop()
	lastFile := time.Time{}
	var written []string
	for {
		if err := a.steward.reconcile(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("steward", "err", err)
		}
		l.Kick()
		// Written when the members change, not only every 10 s: an agent
		// restarted a moment after the start must find the others there.
		if addrs := a.members.Addrs(); !slices.Equal(addrs, written) || time.Since(lastFile) > 10*time.Second {
			if err := member.WriteMembersFile(a.cfg.membersFile(), addrs, a.cfg.Name, time.Now()); err != nil {
				a.log.Warn("members file", "err", err)
			}
			lastFile, written = time.Now(), addrs
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-a.membersChanged:
		}
	}
}

// queueTimeout bounds one request of the leader to a queue server. The
// leader's round waits on it (no task is placed meanwhile), so a server
// that holds a request must not stall the cluster for the client's
// 2-minute default (chaos upstream-faults: one hung lease stopped every
// placement for 2 minutes); the call is retried after it.
const queueTimeout = 30 * time.Second

func (a *agent) openQueue() (upstream.Queue, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.queue != nil {
		return a.queue, nil
	}
	q, err := upstream.Open(a.cfg.Queue, upstream.Options{
		HTTP: upstream.HTTPOptions{Token: a.cfg.QueueToken, Timeout: queueTimeout, Logger: a.log},
		File: upstream.FileOptions{StateDir: a.cfg.StateDir, Owner: a.cfg.Name, Logger: a.log},
	})
	if err != nil {
		return nil, fmt.Errorf("open the queue %s: %w", a.cfg.Queue, err)
	}
	a.queue = q
	return q, nil
}

func (a *agent) setLeading(l *coordinator.Leader) {
	a.mu.Lock()
	a.current = l
	a.mu.Unlock()
}

func (a *agent) leading() *coordinator.Leader {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.current
}

// leaderRPCAddr is the RPC address of the current Raft leader, "" when no
// leader is known. A leader this node's gossip has not heard of yet (it
// joined at about the same time) is looked for by a sync with others.
func (a *agent) leaderRPCAddr() string {
	id, _ := a.raft.Leader()
	if id == "" {
		return ""
	}
	find := func() string {
		for _, m := range a.members.Members() {
			if m.Name == id {
				return m.Meta.RPCAddr
			}
		}
		return ""
	}
	if addr := find(); addr != "" {
		return addr
	}
	if _, err := a.members.Sync(); err != nil {
		a.log.Debug("the leader is missing from gossip", "leader", id, "err", err)
	}
	return find()
}

// sendReports delivers reports to the leader: directly when this node
// leads, else over the RPC.
func (a *agent) sendReports(ctx context.Context, req *rpc.ReportRequest) (rpc.ReportReply, error) {
	if a.leading() != nil && a.raft.IsLeader() {
		return a.handler().Report(ctx, req)
	}
	id, _ := a.raft.Leader()
	addr := a.leaderRPCAddr()
	if addr == "" {
		return rpc.ReportReply{}, errors.New("no leader known yet")
	}
	// A leader cut off from this node never answers: stop waiting as soon
	// as Raft here names another leader or none (chaos leader-partition:
	// every result waited out the reporter's 6 s timeout).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if now, _ := a.raft.Leader(); now != id {
					cancel()
					return
				}
			}
		}
	}()
	return a.disp.client(addr).Report(ctx, req)
}

// drain leaves the cluster cleanly; see Run.
func (a *agent) drain(stopLeading func()) error {
	ctx, cancel := context.WithTimeout(context.Background(), a.drainBudget())
	defer cancel()
	step := func(d time.Duration) (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, d) }

	if err := a.members.SetMeta(func(m *member.Meta) { m.Draining = true }, 2*time.Second); err != nil {
		a.log.Warn("announce drain", "err", err)
	}
	if a.raft.IsLeader() {
		// The ledger hears of the drain before the handover: the next
		// leader's gossip may not carry it yet, and it would place work
		// here that the executor refuses (chaos: thousands of refusals).
		pctx, c := step(2 * time.Second)
		if _, err := a.raft.Propose(pctx, ledger.PilotDraining{At: time.Now().UnixNano(), Pilot: a.cfg.Pilot}); err != nil {
			a.log.Warn("mark this pilot draining in the ledger", "err", err)
		}
		c()
	}
	if a.raft.IsLeader() && a.otherVoters() > 0 {
		sctx, c := step(5 * time.Second)
		var err error
		if id, addr := a.successor(sctx); id != "" {
			err = a.raft.TransferLeadershipTo(sctx, id, addr)
		} else {
			err = a.raft.TransferLeadership(sctx)
		}
		if err != nil {
			a.log.Warn("hand over leadership", "err", err)
		}
		c()
	}
	// A leader that could not hand over keeps leading while its own tasks
	// end, so their reports still commit.
	if !a.raft.IsLeader() {
		stopLeading()
	}
	deadline := time.Now().Add(a.drainBudget())
	if !a.cfg.End.IsZero() {
		deadline = a.cfg.End.Add(-a.cfg.DrainMargin / 4)
	}
	a.exec.Drain(ctx, deadline)
	rctx, c := step(10 * time.Second)
	if err := a.reports.waitIdle(rctx); err != nil {
		a.log.Warn("some reports could not be delivered before leaving; the leader requeues those attempts", "err", err)
	}
	c()
	stopLeading()
	a.waitDemoted(ctx)
	if err := a.members.SetMeta(func(m *member.Meta) { m.Leaving = true }, time.Second); err != nil {
		a.log.Debug("announce leaving", "err", err)
	}
	if err := a.members.Leave(2 * time.Second); err != nil {
		a.log.Debug("leave", "err", err)
	}
	a.log.Info("left the cluster")
	return nil
}

// drainBudget bounds a whole drain.
func (a *agent) drainBudget() time.Duration {
	if !a.cfg.End.IsZero() {
		if d := time.Until(a.cfg.End); d > 0 {
			return d
		}
		return 5 * time.Second
	}
	return a.cfg.DrainMargin
}

// successor picks the voter to hand leadership to: one that gossip says is
// alive and staying (raft alone might pick a voter that already left and
// is not yet removed, and the hand-over would then fail into an election).
func (a *agent) successor(ctx context.Context) (id, addr string) {
	servers, err := a.raft.Configuration(ctx)
	if err != nil {
		return "", ""
	}
	staying := map[string]bool{}
	for _, m := range a.members.Members() {
		staying[m.Name] = m.MetaErr == nil && !m.Meta.Draining && !m.Meta.Leaving && !a.markedDraining(m.Name)
	}
	for _, srv := range servers {
		if srv.Voter && srv.ID != a.cfg.Name && staying[srv.ID] {
			return srv.ID, srv.Addr
		}
	}
	return "", ""
}

// otherVoters counts the voters besides this node.
func (a *agent) otherVoters() int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	servers, err := a.raft.Configuration(ctx)
	if err != nil {
		return 0
	}
	n := 0
	for _, s := range servers {
		if s.Voter && s.ID != a.cfg.Name {
			n++
		}
	}
	return n
}

// waitDemoted waits (briefly) until the leader has taken this node's vote
// away, so that its exit costs no election.
func (a *agent) waitDemoted(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		servers, err := a.raft.Configuration(ctx)
		if err != nil {
			return
		}
		voter, others := false, 0
		for _, s := range servers {
			if s.ID == a.cfg.Name {
				voter = s.Voter
			} else if s.Voter {
				others++
			}
		}
		if !voter || others == 0 || !a.someoneStays() {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// someoneStays says whether a member other than this one stays (not
// draining by gossip or by the ledger, not leaving): a leader then is or
// will be there to demote this voter, which must not leave before (the
// pilots released together would take the quorum of the one that keeps
// running). When the whole cluster stops at once nobody is left to
// demote anyone.
func (a *agent) someoneStays() bool {
	for _, m := range a.members.Members() {
		if m.Name != a.cfg.Name && m.MetaErr == nil && !m.Meta.Draining && !m.Meta.Leaving && !a.markedDraining(m.Name) {
			return true
		}
	}
	return false
}

// markedDraining says whether the ledger marks node id draining: the
// pilots the leader releases are marked there before their agents drain
// and say so by gossip, so agents released together do not hand
// leadership to one another.
func (a *agent) markedDraining(id string) bool {
	n, ok := a.raft.Ledger().View().Node(id)
	return ok && n.Draining
}

func (a *agent) close() {
	if a.obs != nil {
		a.obs.close()
	}
	if a.members != nil {
		a.members.Shutdown()
	}
	if a.rpcSrv != nil {
		a.rpcSrv.Close()
	}
	if a.disp != nil {
		a.disp.Close()
	}
	if a.raft != nil {
		a.raft.Shutdown()
	}
	if a.exec != nil {
		a.exec.attempts.Close()
	}
	a.mu.Lock()
	if a.queue != nil {
		a.queue.Close()
	}
	a.mu.Unlock()
}
