package member

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// startStill starts a member whose view changes only by Join and Sync.
func startStill(t *testing.T, name string) *Membership {
	t.Helper()
	m, err := Start(Config{Name: name, BindAddr: "127.0.0.1", Key: key1, Meta: Meta{Cores: 1}, Timing: TimingLocal, Logger: quiet, still: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return m
}

// TestLeaveNoticeOutrunsGossip: a member that never got the leaving
// node's Leaving metadata (gossip sent it to others, and the leave came
// first) still reports a leave once the node's notice is acknowledged;
// a member that sent no notice is reported dead.
func TestLeaveNoticeOutrunsGossip(t *testing.T) {
	a, b, c := startStill(t, "a"), startStill(t, "b"), startStill(t, "c")
	for _, m := range []*Membership{b, c} {
		if _, err := m.Join([]string{a.Addr()}); err != nil {
			t.Fatal(err)
		}
		// One at a time: await passes over the events it does not match.
		await(t, a, "join of "+m.Name(), is(EventJoin, m.Name()))
	}
	if err := b.announceLeave(30 * time.Second); err != nil {
		t.Fatalf("b's leave notice: %v", err)
	}
	// What memberlist hands a when the leave outruns the metadata: b's
	// last metadata as a knows it, without Leaving.
	old, err := EncodeMeta(Meta{Cores: 1})
	if err != nil {
		t.Fatal(err)
	}
	a.ev.NotifyLeave(&memberlist.Node{Name: "b", Meta: old})
	a.ev.NotifyLeave(&memberlist.Node{Name: "c", Meta: old})
	if ev := await(t, a, "b gone", func(ev Event) bool { return ev.Node.Name == "b" && ev.Kind != EventUpdate }); ev.Kind != EventLeave {
		t.Fatalf("b, which announced its leave, was reported as %s", ev.Kind)
	}
	if ev := await(t, a, "c gone", func(ev Event) bool { return ev.Node.Name == "c" && ev.Kind != EventUpdate }); ev.Kind != EventDead {
		t.Fatalf("c, which announced nothing, was reported as %s", ev.Kind)
	}
}

// TestLeaveNoticeToAGoneMember: a member that cannot be reached makes the
// notice fail at once, naming it, not wait out the timeout.
func TestLeaveNoticeToAGoneMember(t *testing.T) {
	a, b := startStill(t, "a"), startStill(t, "b")
	if _, err := b.Join([]string{a.Addr()}); err != nil {
		t.Fatal(err)
	}
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.announceLeave(time.Hour) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "sending to a at "+a.Addr()) {
			t.Fatalf("notice to a gone member: %v, want an error naming a at %s", err, a.Addr())
		}
	case <-time.After(time.Minute):
		t.Fatal("the notice to a gone member waited for its hour-long timeout")
	}
}
