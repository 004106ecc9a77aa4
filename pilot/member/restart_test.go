package member

import (
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// TestRestartOnNewPort crashes a member (no leave) and starts it again
// under its name on a new port, as an agent restarted on its node does:
// once the old one is dead, the others take the new address (memberlist
// refuses a known name at a new address unless a dead one may be
// reclaimed).
func TestRestartOnNewPort(t *testing.T) {
	a := start(t, "a", key1, Meta{Cores: 1, RPCAddr: "127.0.0.1:7001"})
	b := start(t, "b", key1, Meta{Cores: 1, RPCAddr: "127.0.0.1:7002"})
	if _, err := b.Join([]string{a.Addr()}); err != nil {
		t.Fatal(err)
	}
	await(t, a, "join of b", is(EventJoin, "b"))
	if err := b.Shutdown(); err != nil { // a crash: no leave
		t.Fatal(err)
	}
	await(t, a, "death of b", is(EventDead, "b"))
	dead := time.Now()
	b2 := start(t, "b", key1, Meta{Cores: 1, RPCAddr: "127.0.0.1:7003"})
	if b2.Addr() == b.Addr() {
		t.Fatalf("the restarted member got the old address %s", b.Addr())
	}
	if _, err := b2.Join([]string{a.Addr()}); err != nil {
		t.Fatal(err)
	}
	await(t, a, "b back at its new address", func(ev Event) bool {
		return ev.Node.Name == "b" && (ev.Kind == EventJoin || ev.Kind == EventUpdate) && ev.Node.Addr == b2.Addr()
	})
	// Without reclaiming, a took the new address only once it forgot the
	// dead one, GossipToTheDeadTime after its death.
	if forget := memberlist.DefaultLocalConfig().GossipToTheDeadTime; time.Since(dead) >= forget {
		t.Errorf("a took b's new address %s after its death, not before it forgot the dead one (%s)", time.Since(dead).Round(time.Millisecond), forget)
	}
	for _, n := range a.Members() {
		if n.Name == "b" && (n.Addr != b2.Addr() || n.Meta.RPCAddr != "127.0.0.1:7003") {
			t.Fatalf("a sees b at %s (rpc %s), want %s (rpc 127.0.0.1:7003)", n.Addr, n.Meta.RPCAddr, b2.Addr())
		}
	}
}
