package pilot

import (
	"testing"

	"github.com/pilot-hpc/pilot/pilot/member"
)

func TestRaftAddrs(t *testing.T) {
	var r raftAddrs
	if got := r.lookup("a1"); got != "" {
		t.Fatalf("before gossip: %q, want none", got)
	}
	live := []member.Node{{Name: "a1", Meta: member.Meta{RaftAddr: "10.0.0.1:7001"}}, {Name: "a2"}}
	r.use(func() []member.Node { return live })
	if got := r.lookup("a1"); got != "10.0.0.1:7001" {
		t.Fatalf("a1: %q", got)
	}
	if got := r.lookup("a2"); got != "" {
		t.Fatalf("a2 gossips no Raft address: %q, want none", got)
	}
	// Restarted on a new port, then gone from gossip: the last address stays.
	live = []member.Node{{Name: "a1", Meta: member.Meta{RaftAddr: "10.0.0.1:7002"}}}
	if got := r.lookup("a1"); got != "10.0.0.1:7002" {
		t.Fatalf("a1 after its restart: %q", got)
	}
	live = nil
	if got := r.lookup("a1"); got != "10.0.0.1:7002" {
		t.Fatalf("a1 gone from gossip: %q, want its last address", got)
	}
}
