package member

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func start(t *testing.T, name string, key []byte, meta Meta) *Membership {
	t.Helper()
	m, err := Start(Config{
		Name: name, BindAddr: "127.0.0.1", Key: key, Meta: meta,
		Timing: TimingLocal, ProbeInterval: 200 * time.Millisecond, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return m
}

// await reads m's events until one matches, failing after a generous bound
// (it is a guard against a hang, not a wait for time to pass).
func await(t *testing.T, m *Membership, what string, match func(Event) bool) Event {
	t.Helper()
	guard := time.NewTimer(30 * time.Second)
	defer guard.Stop()
	for {
		select {
		case ev, ok := <-m.Events():
			if !ok {
				t.Fatalf("%s: events closed before %s", m.Name(), what)
			}
			if match(ev) {
				return ev
			}
		case <-guard.C:
			t.Fatalf("%s: no %s", m.Name(), what)
		}
	}
}

func is(kind EventKind, name string) func(Event) bool {
	return func(ev Event) bool { return ev.Kind == kind && ev.Node.Name == name }
}

var key1 = bytes.Repeat([]byte{1}, 32)

func TestClusterLifecycle(t *testing.T) {
	a := start(t, "a", key1, Meta{Cores: 4, MemMB: 8000, Pilot: "local", RPCAddr: "127.0.0.1:7001", Role: RoleVoter})
	b := start(t, "b", key1, Meta{Cores: 2, MemMB: 4000, Pilot: "123", PilotEnd: 1900000000, RPCAddr: "127.0.0.1:7002", Role: RoleWorker})
	c := start(t, "c", key1, Meta{Cores: 1, Pilot: "123", Role: RoleWorker})
	if strings.HasSuffix(a.Addr(), ":0") {
		t.Fatalf("port 0 not resolved: %s", a.Addr())
	}
	if n, err := b.Join([]string{a.Addr()}); err != nil || n != 1 {
		t.Fatalf("join: %d %v", n, err)
	}
	// A seed merges a joiner after Join returns, and await passes over
	// the events it does not match: a is awaited for each join in turn.
	ev := await(t, a, "join of b", is(EventJoin, "b"))
	if ev.Node.MetaErr != nil || ev.Node.Meta.Cores != 2 || ev.Node.Meta.RPCAddr != "127.0.0.1:7002" || ev.Node.Meta.End().Unix() != 1900000000 {
		t.Fatalf("b's meta as a sees it: %+v", ev.Node)
	}
	if _, err := c.Join([]string{a.Addr()}); err != nil {
		t.Fatal(err)
	}
	await(t, a, "join of c", is(EventJoin, "c"))
	await(t, b, "join of c", is(EventJoin, "c"))
	await(t, c, "join of b", is(EventJoin, "b"))
	if got := len(a.Members()); got != 3 {
		t.Fatalf("a sees %d members", got)
	}

	// b drains: its new metadata reaches a.
	if err := b.SetMeta(func(m *Meta) { m.Draining = true }, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	await(t, a, "b draining", func(ev Event) bool { return is(EventUpdate, "b")(ev) && ev.Node.Meta.Draining })

	// b leaves gracefully: a sees a leave, not a death.
	if err := b.Leave(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	await(t, a, "leave of b", func(ev Event) bool {
		if ev.Node.Name == "b" && ev.Kind == EventDead {
			t.Fatal("a graceful leave was seen as a death")
		}
		return is(EventLeave, "b")(ev)
	})

	// c vanishes without a word: a declares it dead.
	c.Shutdown()
	await(t, a, "death of c", is(EventDead, "c"))
	if got := a.Members(); len(got) != 1 || got[0].Name != "a" {
		t.Fatalf("a's members after churn: %+v", got)
	}
}

func TestWrongKeyCannotJoin(t *testing.T) {
	a := start(t, "a", key1, Meta{Cores: 1})
	intruder := start(t, "intruder", bytes.Repeat([]byte{2}, 32), Meta{Cores: 1})
	if n, err := intruder.Join([]string{a.Addr()}); !errors.Is(err, ErrNoSeed) || n != 0 {
		t.Fatalf("intruder joined %d: %v", n, err)
	}
	if n, err := a.Join([]string{intruder.Addr()}); !errors.Is(err, ErrNoSeed) || n != 0 {
		t.Fatalf("a joined the intruder %d: %v", n, err)
	}
	// A legitimate node joining afterwards shows the cluster is a and it
	// alone: its join completes a full state exchange with a.
	b := start(t, "b", key1, Meta{Cores: 1})
	if _, err := b.Join([]string{a.Addr()}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Membership{a, b} {
		for _, n := range m.Members() {
			if n.Name == "intruder" {
				t.Fatalf("%s lists the intruder", m.Name())
			}
		}
	}
	if n := len(intruder.Members()); n != 1 {
		t.Fatalf("the intruder sees %d members", n)
	}
}

func TestStartRejectsBadKey(t *testing.T) {
	if _, err := Start(Config{BindAddr: "127.0.0.1", Key: []byte("short"), Logger: quiet}); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}

func TestMetaRoundTripAndLimits(t *testing.T) {
	m := Meta{Cores: 64, MemMB: 256000, Pilot: "987654", PilotEnd: 1900000000, RPCAddr: "10.1.2.3:7001", RaftAddr: "10.1.2.3:7002", Role: RoleVoter, Draining: true, Version: "v1.2.3"}
	b, err := EncodeMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != metaV1 {
		t.Fatalf("type byte %d", b[0])
	}
	got, err := DecodeMeta(b)
	if err != nil || got != m {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := EncodeMeta(Meta{Pilot: strings.Repeat("x", 600)}); err == nil || !strings.Contains(err.Error(), "limit is 512") {
		t.Fatalf("oversized meta: %v", err)
	}
	for _, bad := range [][]byte{nil, {9, 0x80}, {metaV1, 0xc1}} {
		if _, err := DecodeMeta(bad); !errors.Is(err, ErrMeta) {
			t.Errorf("%x: %v, want ErrMeta", bad, err)
		}
	}
}

func FuzzDecodeMeta(f *testing.F) {
	b, _ := EncodeMeta(Meta{Cores: 2, Pilot: "local"})
	f.Add(b)
	f.Add([]byte{metaV1})
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := DecodeMeta(in)
		if err != nil {
			return
		}
		if _, err := EncodeMeta(m); err != nil && len(in) <= MaxMetaSize {
			t.Fatalf("decoded %+v from %d bytes but cannot encode it: %v", m, len(in), err)
		}
	})
}

// TestSyncFindsAMemberGossipMissed: b and c join through a at about the
// same time, and b hears nothing more (its gossip is still), as when the
// announcement of c's join goes to other nodes. Sync brings c into b's
// view; b must not take c's absence for its death before it.
func TestSyncFindsAMemberGossipMissed(t *testing.T) {
	var ms [3]*Membership
	for i, name := range []string{"a", "b", "c"} {
		m, err := Start(Config{Name: name, BindAddr: "127.0.0.1", Key: key1, Meta: Meta{Cores: 1, RPCAddr: name}, Timing: TimingLocal, Logger: quiet, still: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Shutdown() })
		ms[i] = m
	}
	a, b, c := ms[0], ms[1], ms[2]
	if n, err := b.Sync(); n != 0 || err != nil {
		t.Fatalf("sync alone: %d %v, want 0 and no error", n, err)
	}
	for _, m := range []*Membership{b, c} {
		if _, err := m.Join([]string{a.Addr()}); err != nil {
			t.Fatal(err)
		}
	}
	// A seed answers a join with its state before it merges the joiner's,
	// so c's Join may return before a knows c: b's sync could only find c
	// once a has it.
	await(t, a, "join of c", is(EventJoin, "c"))
	names := func(m *Membership) string {
		var out []string
		for _, n := range m.Members() {
			out = append(out, n.Name)
		}
		return strings.Join(out, ",")
	}
	if got := names(b); got != "a,b" {
		t.Fatalf("b sees %s before the sync, want a,b (the test needs b to have missed c)", got)
	}
	if n, err := b.Sync(); n != 1 || err != nil {
		t.Fatalf("sync: %d members answered, %v; want 1", n, err)
	}
	if got := names(b); got != "a,b,c" {
		t.Fatalf("b sees %s after the sync, want a,b,c", got)
	}
	ev := await(t, b, "join of c", is(EventJoin, "c"))
	if ev.Node.Meta.RPCAddr != "c" {
		t.Fatalf("c's meta as b sees it after the sync: %+v", ev.Node)
	}

	a.Shutdown()
	if n, err := b.Sync(); n != 1 || err != nil {
		t.Fatalf("sync with a gone: %d members answered, %v; want c to answer", n, err)
	}
	c.Shutdown()
	if n, err := b.Sync(); n != 0 || !strings.Contains(fmt.Sprint(err), "sync with 2 members") {
		t.Fatalf("sync with nobody left: %d, %v; want an error naming the 2 members tried", n, err)
	}
}
