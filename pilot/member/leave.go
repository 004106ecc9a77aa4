package member

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/vmihailenco/msgpack/v5"
)

// A leave notice goes to each live member over TCP (memberlist's reliable
// user message, encrypted like the gossip) before memberlist's own leave
// broadcast, and each member acknowledges it once noted. Gossip alone does
// not order the two: the Leaving metadata is sent to a few random members
// only (RetransmitMult times log N), so a member it missed could hear of it
// second hand after the leave itself and report a death.
//
// A user message is a type byte then a msgpack map. Append-only: a new
// kind gets a new byte, and old bytes are never reused.
const (
	msgLeaving    byte = 1 // a node is about to leave; answer msgLeavingAck
	msgLeavingAck byte = 2 // the leave notice of the node named To is noted
)

// notice is the body of both messages.
type notice struct {
	From string `msgpack:"from"` // name of the sender
	Addr string `msgpack:"addr"` // sender's gossip host:port, where the ack goes
	To   string `msgpack:"to"`   // msgLeavingAck: the leaving node acknowledged
}

func encodeNotice(kind byte, n notice) []byte {
	body, err := msgpack.Marshal(&n)
	if err != nil {
		panic(fmt.Sprintf("membership: encoding a %d notice: %v", kind, err)) // a struct of strings always encodes
	}
	return append([]byte{kind}, body...)
}

// leaveAcks tracks the members whose ack of this node's leave notice is
// still awaited.
type leaveAcks struct {
	mu      sync.Mutex
	waiting map[string]bool
	failed  []error       // notices that could not be sent
	done    chan struct{} // closed when waiting empties
}

// handleMsg receives a user message. It runs on memberlist's connection
// goroutine: it notes and returns, and sends any answer from a goroutine
// of its own.
func (m *Membership) handleMsg(b []byte) {
	var n notice
	if len(b) == 0 || msgpack.Unmarshal(b[1:], &n) != nil {
		m.log.Warn("an undecodable gossip message was ignored (a node of another version?)", "bytes", len(b))
		return
	}
	switch b[0] {
	case msgLeaving:
		m.ev.noteLeaving(n.From)
		go m.send(n.From, n.Addr, encodeNotice(msgLeavingAck, notice{From: m.name, To: n.From}))
	case msgLeavingAck:
		if n.To == m.name {
			m.acks.ack(n.From, nil)
		}
	default:
		m.log.Warn("a gossip message of an unknown kind was ignored (a node of another version?)", "kind", b[0])
	}
}

// send delivers msg to the named node at addr over TCP.
func (m *Membership) send(name, addr string, msg []byte) error {
	<-m.ready
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("membership: member %s has gossip address %q: %w", name, addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("membership: member %s has gossip address %q: %w", name, addr, err)
	}
	to := &memberlist.Node{Name: name, Addr: net.ParseIP(host), Port: uint16(p)}
	if err := m.ml.SendReliable(to, msg); err != nil {
		m.log.Debug("a gossip message was not delivered", "member", name, "addr", addr, "err", err)
		return fmt.Errorf("membership: sending to %s at %s: %w", name, addr, err)
	}
	return nil
}

func (a *leaveAcks) start(names []string) <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.waiting, a.failed = map[string]bool{}, nil
	for _, n := range names {
		a.waiting[n] = true
	}
	a.done = make(chan struct{})
	if len(a.waiting) == 0 {
		close(a.done)
	}
	return a.done
}

// ack ends the wait for name's answer: it came, or err says why none will.
func (a *leaveAcks) ack(name string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.failed = append(a.failed, err)
	}
	if !a.waiting[name] {
		return
	}
	delete(a.waiting, name)
	if len(a.waiting) == 0 {
		close(a.done)
	}
}

// result says which notices failed and which members did not answer.
func (a *leaveAcks) result(timeout time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var missing []string
	for n := range a.waiting {
		missing = append(missing, n)
	}
	err := errors.Join(a.failed...)
	if len(missing) > 0 {
		sort.Strings(missing)
		err = errors.Join(err, fmt.Errorf("membership: %v did not acknowledge the leave notice within %s (they may report a death)", missing, timeout))
	}
	return err
}

// announceLeave sends the leave notice to every other live member and
// waits up to timeout for all of them to acknowledge it.
func (m *Membership) announceLeave(timeout time.Duration) error {
	var others []Node
	for _, n := range m.Members() {
		if n.Name != m.name {
			others = append(others, n)
		}
	}
	names := make([]string, len(others))
	for i, n := range others {
		names[i] = n.Name
	}
	done := m.acks.start(names)
	guard := time.NewTimer(timeout)
	defer guard.Stop()
	msg := encodeNotice(msgLeaving, notice{From: m.name, Addr: m.addr})
	for _, n := range others {
		// Concurrently: a member that does not answer holds its send for
		// memberlist's TCP timeout, longer than a leave may take.
		go func() {
			if err := m.send(n.Name, n.Addr, msg); err != nil {
				m.acks.ack(n.Name, err) // no answer will come
			}
		}()
	}
	select {
	case <-done:
	case <-guard.C:
	}
	return m.acks.result(timeout)
}

// Leave tells the cluster this node is leaving, waits up to timeout for
// that to spread, then stops. It gossips Meta.Leaving and sends every live
// member a leave notice that each acknowledges, so that others report
// EventLeave rather than EventDead; a member the notice does not reach in
// time (a partition, a node of an older version) sees a death, which
// callers must handle the same safe way.
func (m *Membership) Leave(timeout time.Duration) error {
	// Each step is tried even when the one before failed: a lost notice
	// only turns a leave into a death for the others.
	err := errors.Join(
		m.SetMeta(func(meta *Meta) { meta.Leaving = true }, timeout/3),
		m.announceLeave(timeout/3),
		m.ml.Leave(timeout/3),
		m.Shutdown(),
	)
	if err != nil {
		return fmt.Errorf("membership: leaving: %w", err)
	}
	return nil
}
