package pilot

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/pilot/member"
)

// steward runs on the leader beside the leader loop. It keeps two things in
// line with gossip membership: the ledger's nodes (AgentJoined for a new or
// changed member, PilotDraining for a draining one, AgentLost for one that
// is gone, which requeues its tasks as infra failures) and Raft's voters (a
// dead server is removed, a live member is added as a non-voter, and
// non-draining members are promoted until the cluster has its voters, so
// quorum survives churn across pilots).
type steward struct {
	raft       *coordinator.Node
	members    *member.Membership
	voters     int
	crashLimit int
	// took says whether an attempt took its scratch cache entry (so it may
	// have started): scratchcache.Cache.Took.
	took func(taskID, digest string, attempt int) (bool, error)
	now  func() int64
	log  *slog.Logger
}

// live returns the members that may hold work, by name.
func (s *steward) live() map[string]member.Node {
	out := map[string]member.Node{}
	for _, m := range s.members.Members() {
		if m.MetaErr != nil || m.Meta.RPCAddr == "" || m.Meta.Leaving {
			continue
		}
		out[m.Name] = m
	}
	return out
}

// reconcile runs one pass. It is idempotent: a pass with nothing to change
// proposes nothing.
func (s *steward) reconcile(ctx context.Context) error {
	live, err := s.liveSynced(ctx)
	if err != nil {
		return err
	}
	if err := s.reconcileLedger(ctx, live); err != nil {
		return err
	}
	return s.reconcileVoters(ctx, live)
}

// liveSynced returns the live members, first syncing with others when a
// node of the ledger or a Raft server is missing from this node's gossip
// view: a new leader may never have heard of an agent that joined at the
// same time as itself, and must not take that for a death (it would
// requeue the agent's work and drop it from Raft, and the agent would idle
// until the next periodic gossip exchange).
func (s *steward) liveSynced(ctx context.Context) (map[string]member.Node, error) {
	live := s.live()
	servers, err := s.raft.Configuration(ctx)
	if err != nil {
		return nil, err
	}
	missing := ""
	for _, srv := range servers {
		if _, ok := live[srv.ID]; !ok && srv.ID != s.raft.ID() {
			missing = srv.ID
		}
	}
	for _, n := range s.raft.Ledger().View().Nodes() {
		if _, ok := live[n.ID]; !ok {
			missing = n.ID
		}
	}
	if missing == "" {
		return live, nil
	}
	if _, err := s.members.Sync(); err != nil {
		s.log.Warn("a member is missing from gossip and no member answered a sync", "member", missing, "err", err)
	}
	live = s.live()
	if _, ok := live[missing]; ok {
		s.log.Info("a gossip sync found a member this node had not heard of", "member", missing)
	}
	return live, nil
}

func (s *steward) reconcileLedger(ctx context.Context, live map[string]member.Node) error {
	v := s.raft.Ledger().View()
	var batch ledger.Batch
	at := s.now()
	draining := map[string]bool{}
	for _, name := range sortedNames(live) {
		m := live[name].Meta
		info := ledger.NodeInfo{ID: name, Cores: m.Cores, MemMB: m.MemMB, Pilot: m.Pilot, PilotEnd: m.End().UnixNano(), Addr: m.RPCAddr, Prefetch: prefetchCores(m.Cores)}
		if m.PilotEnd == 0 {
			info.PilotEnd = 0
		}
		n, known := v.Node(name)
		if !known || n.Addr != info.Addr || n.PilotEnd != info.PilotEnd || n.Cores != info.Cores || n.MemMB != info.MemMB || n.Pilot != info.Pilot || n.Prefetch != info.Prefetch {
			batch.Cmds = append(batch.Cmds, ledger.AgentJoined{At: at, Node: info})
		}
		if m.Draining && (!known || !n.Draining) && !draining[m.Pilot] {
			draining[m.Pilot] = true
			batch.Cmds = append(batch.Cmds, ledger.PilotDraining{At: at, Pilot: m.Pilot})
		}
	}
	for _, n := range v.Nodes() {
		if _, ok := live[n.ID]; !ok {
			s.log.Info("a node is no live member: its tasks are requeued", "member", n.ID, "tasks", n.Tasks)
			batch.Cmds = append(batch.Cmds, ledger.AgentLost{At: at, Node: n.ID, CrashLimit: s.crashLimit, MayHaveRun: s.mayHaveRun(v, n.ID)})
		}
	}
	if len(batch.Cmds) == 0 {
		return nil
	}
	out, err := s.raft.Propose(ctx, batch)
	if err != nil {
		return fmt.Errorf("reconcile the ledger's nodes with membership: %w", err)
	}
	if err := out.Err(); err != nil {
		return fmt.Errorf("reconcile the ledger's nodes with membership: %w", err)
	}
	return nil
}

// mayHaveRun names the first attempts assigned to a lost node that may
// have started there unrecorded: the agent starts a first attempt without
// waiting for its Started to commit, and takes the attempt's scratch cache
// entry right before starting it. One whose entry cannot be read counts.
func (s *steward) mayHaveRun(v ledger.View, node string) []string {
	var out []string
	for _, t := range v.OnNode(node) {
		if t.State != ledger.Assigned || t.Attempt != 1 {
			continue
		}
		took := true
		if s.took != nil {
			var err error
			if took, err = s.took(t.Spec.ID, t.Spec.Digest(), t.Attempt); err != nil {
				s.log.Warn("cannot tell whether a lost node's task started; counting it as started", "task", t.Spec.ID, "node", node, "err", err)
				took = true
			}
		}
		if took {
			out = append(out, t.Spec.ID)
		}
	}
	return out
}

func (s *steward) reconcileVoters(ctx context.Context, live map[string]member.Node) error {
	servers, err := s.raft.Configuration(ctx)
	if err != nil {
		return err
	}
	self := s.raft.ID()
	inConfig := map[string]coordinator.Server{}
	for _, srv := range servers {
		inConfig[srv.ID] = srv
		if _, ok := live[srv.ID]; !ok && srv.ID != self {
			if err := s.raft.RemoveServer(ctx, srv.ID); err != nil {
				return fmt.Errorf("remove dead raft server %s: %w", srv.ID, err)
			}
			s.log.Info("removed a dead raft server", "member", srv.ID, "was_voter", srv.Voter)
			delete(inConfig, srv.ID)
		}
	}
	for _, name := range sortedNames(live) {
		srv, ok := inConfig[name]
		addr := live[name].Meta.RaftAddr
		if addr == "" || (ok && srv.Addr == addr) {
			continue
		}
		// A new member joins as a non-voter. A member restarted on its
		// node (same name, new ports) that came back before it was
		// removed keeps its place, at its new address: adding a known
		// server again only changes its address.
		add, what := s.raft.AddNonvoter, "add raft non-voter"
		if ok {
			what = "move raft server"
			if srv.Voter {
				add = s.raft.AddVoter
			}
			s.log.Info("a raft server is at a new address", "member", name, "from", srv.Addr, "to", addr)
		}
		if err := add(ctx, name, addr); err != nil {
			return fmt.Errorf("%s %s: %w", what, name, err)
		}
		inConfig[name] = coordinator.Server{ID: name, Addr: addr, Voter: srv.Voter}
	}

	// Voters: the live, non-draining members, the longest-lived pilots
	// first. A member drains when gossip says so or, earlier, when the
	// ledger marks its pilot draining (its agents are released at once,
	// before their gossip says so).
	v := s.raft.Ledger().View()
	eligible := func(name string) bool {
		m, ok := live[name]
		n, known := v.Node(name)
		return ok && !m.Meta.Draining && !(known && n.Draining)
	}
	// leaving: a draining member with nothing left to run, about to go.
	leaving := func(name string) bool {
		n, known := v.Node(name)
		return !eligible(name) && (!known || n.Tasks == 0)
	}
	var voters, candidates []string
	for name, srv := range inConfig {
		switch {
		case srv.Voter && eligible(name):
			voters = append(voters, name)
		case !srv.Voter && eligible(name):
			candidates = append(candidates, name)
		}
	}
	sort.Slice(candidates, func(i, j int) bool {
		a, b := live[candidates[i]].Meta, live[candidates[j]].Meta
		if a.PilotEnd != b.PilotEnd {
			return a.PilotEnd == 0 || (b.PilotEnd != 0 && a.PilotEnd > b.PilotEnd)
		}
		return candidates[i] < candidates[j]
	})
	for len(voters) < s.voters && len(candidates) > 0 {
		name := candidates[0]
		candidates = candidates[1:]
		if err := s.raft.AddVoter(ctx, name, inConfig[name].Addr); err != nil {
			return fmt.Errorf("promote %s to raft voter: %w", name, err)
		}
		s.log.Info("promoted to raft voter", "member", name)
		voters = append(voters, name)
	}
	// A draining voter steps down once enough others vote, or once it has
	// nothing left to run: it waits for that before it leaves, and voters
	// that left undemoted could take the quorum with them (all but one
	// pilot released at once, the last one still running tasks).
	enough := len(voters) >= s.voters || len(voters) >= 3
	for _, name := range sortedServerNames(inConfig) {
		if srv := inConfig[name]; srv.Voter && !eligible(name) && name != self && (enough || leaving(name)) {
			if err := s.raft.DemoteVoter(ctx, name); err != nil {
				return fmt.Errorf("demote draining voter %s: %w", name, err)
			}
			s.log.Info("demoted a draining raft voter", "member", name)
		}
	}
	return nil
}

func sortedNames(m map[string]member.Node) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedServerNames(m map[string]coordinator.Server) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
