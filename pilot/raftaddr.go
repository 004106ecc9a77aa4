package pilot

import (
	"sync"

	"github.com/pilot-hpc/pilot/pilot/member"
)

// raftAddrs resolves a Raft server's ID to the Raft address gossip last
// gave for it (coordinator.Config.Resolve). Raft dials that, not the
// address its configuration holds, which goes stale when an agent restarts
// on its node with new ports (chaos quorum-loss: 3 of 5 voters killed and
// restarted; the 2 survivors held the longest logs and dialled the others
// at their old ports for good, so no leader was ever elected). It keeps
// the last address of a member that left gossip. Safe for concurrent use:
// Raft calls it from its goroutines, from before gossip starts.
type raftAddrs struct {
	mu      sync.Mutex
	members func() []member.Node
	last    map[string]string
}

// use starts answering from members (the live gossip members).
func (r *raftAddrs) use(members func() []member.Node) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.members = members
}

// lookup is the Raft address of server id, "" when gossip never gave one.
func (r *raftAddrs) lookup(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.members == nil {
		return r.last[id]
	}
	if r.last == nil {
		r.last = map[string]string{}
	}
	for _, m := range r.members() {
		if m.Meta.RaftAddr != "" {
			r.last[m.Name] = m.Meta.RaftAddr
		}
	}
	return r.last[id]
}
