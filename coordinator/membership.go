package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/raft"
)

// Server is one member of the Raft configuration.
type Server struct {
	ID    string `json:"id"`
	Addr  string `json:"addr"`
	Voter bool   `json:"voter"`
}

// Bootstrap makes a new cluster of the given servers (this node among
// them). A node that already holds state ignores it and returns nil, so
// every start may call it; start exactly one new cluster per campaign.
func (n *Node) Bootstrap(servers []Server) error {
	if !slices.ContainsFunc(servers, func(s Server) bool { return s.ID == n.cfg.ID && s.Voter }) {
		return fmt.Errorf("bootstrap on node %s: the servers %v do not include this node as a voter", n.cfg.ID, servers)
	}
	cfg := raft.Configuration{}
	for _, s := range servers {
		sf := raft.Voter
		if !s.Voter {
			sf = raft.Nonvoter
		}
		cfg.Servers = append(cfg.Servers, raft.Server{Suffrage: sf, ID: raft.ServerID(s.ID), Address: raft.ServerAddress(s.Addr)})
	}
	err := n.raft.BootstrapCluster(cfg).Error()
	if errors.Is(err, raft.ErrCantBootstrap) {
		n.cfg.Logger.Info("raft node has state; bootstrap skipped", "node", n.cfg.ID)
		return nil
	}
	if err == nil && len(servers) == 1 {
		n.electNow()
	}
	return n.raftError("bootstrap", err)
}

// electNow has a lone voter that has just bootstrapped a new cluster
// campaign at once rather than after one to two heartbeat timeouts
// (`pilot local` started a second or two late). Its log holds only the
// configuration it made, so winning now or later is the same election.
// Raft wakes a follower's heartbeat timer only when the timeout shrinks,
// so the timeout is lowered by a nanosecond and set back: the timer fires
// at once and, as no leader has ever contacted this node, it campaigns.
// A node that had state never gets here (ErrCantBootstrap): it waits for
// the cluster it belongs to as before.
func (n *Node) electNow() {
	normal := n.raft.ReloadableConfig()
	nudge := normal
	nudge.HeartbeatTimeout--
	if err := n.raft.ReloadConfig(nudge); err != nil {
		n.cfg.Logger.Debug("raft: cannot wake the first election early", "node", n.cfg.ID, "err", err)
		return
	}
	if err := n.raft.ReloadConfig(normal); err != nil {
		n.cfg.Logger.Warn("raft: cannot set the heartbeat timeout back", "node", n.cfg.ID, "err", err)
	}
}

// Configuration lists the cluster's servers as this node knows them.
func (n *Node) Configuration(ctx context.Context) ([]Server, error) {
	f := n.raft.GetConfiguration()
	if err := n.wait(ctx, f); err != nil {
		return nil, n.raftError("configuration", err)
	}
	var out []Server
	for _, s := range f.Configuration().Servers {
		out = append(out, Server{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}

// AddVoter adds a server as a voter (or promotes a non-voter). Leader only.
func (n *Node) AddVoter(ctx context.Context, id, addr string) error {
	return n.raftError("add voter "+id, n.wait(ctx, n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, enqueueTimeout(ctx))))
}

// AddNonvoter adds a server that receives the log but does not vote.
// Leader only.
func (n *Node) AddNonvoter(ctx context.Context, id, addr string) error {
	return n.raftError("add non-voter "+id, n.wait(ctx, n.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, enqueueTimeout(ctx))))
}

// DemoteVoter makes a voter a non-voter (a pilot that drains hands its
// vote on). Leader only.
func (n *Node) DemoteVoter(ctx context.Context, id string) error {
	return n.raftError("demote voter "+id, n.wait(ctx, n.raft.DemoteVoter(raft.ServerID(id), 0, enqueueTimeout(ctx))))
}

// RemoveServer removes a server from the cluster. Leader only.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	return n.raftError("remove server "+id, n.wait(ctx, n.raft.RemoveServer(raft.ServerID(id), 0, enqueueTimeout(ctx))))
}

// TransferLeadership hands leadership to the most up-to-date voter.
// Leader only.
func (n *Node) TransferLeadership(ctx context.Context) error {
	return n.raftError("transfer leadership", n.wait(ctx, n.raft.LeadershipTransfer()))
}

// TransferLeadershipTo hands leadership to one voter. Leader only.
func (n *Node) TransferLeadershipTo(ctx context.Context, id, addr string) error {
	return n.raftError("transfer leadership to "+id, n.wait(ctx, n.raft.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(addr))))
}

// IsLeader reports whether this node is the leader now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the id and address of the leader as this node knows it;
// both empty when none is known.
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// LeaderCh delivers true when this node becomes the leader and false when
// it stops being it. It is raft's one channel: give it one reader (the
// leader loop). When the reader lags, only the latest change is kept.
func (n *Node) LeaderCh() <-chan bool { return n.raft.LeaderCh() }
