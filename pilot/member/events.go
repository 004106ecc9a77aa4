package member

import (
	"net"
	"strconv"
	"sync"

	"github.com/hashicorp/memberlist"
)

// EventKind says what happened to a node.
type EventKind uint8

const (
	EventJoin   EventKind = iota + 1 // a node joined (or this node saw it first)
	EventUpdate                      // a node's metadata changed
	EventLeave                       // a node left gracefully (it drained)
	EventDead                        // memberlist declared a node dead (or its Leave's notice was lost)
)

func (k EventKind) String() string {
	switch k {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	case EventDead:
		return "dead"
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Event is one change of the membership.
type Event struct {
	Kind EventKind
	Node Node
}

// Node is one member as this node sees it.
type Node struct {
	Name string
	Addr string // gossip host:port
	Meta Meta
	// MetaErr is set when the node's metadata did not decode (a node of
	// another version); Meta is then zero and the node must not be given
	// tasks.
	MetaErr error
}

func toNode(n *memberlist.Node) Node {
	out := Node{Name: n.Name, Addr: net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))}
	out.Meta, out.MetaErr = DecodeMeta(n.Meta)
	return out
}

// delegate answers memberlist's Delegate calls. It returns the meta bytes
// encoded by SetMeta and hands user messages (leave notices, leave.go) to
// onMsg; the cluster gossips nothing else.
type delegate struct {
	mu    sync.Mutex
	meta  []byte
	onMsg func([]byte) // must not block nor keep the slice
}

func (d *delegate) NodeMeta(int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.meta
}

func (d *delegate) set(b []byte) {
	d.mu.Lock()
	d.meta = b
	d.mu.Unlock()
}

func (d *delegate) NotifyMsg(b []byte)              { d.onMsg(b) }
func (d *delegate) GetBroadcasts(int, int) [][]byte { return nil }
func (d *delegate) LocalState(bool) []byte          { return nil }
func (d *delegate) MergeRemoteState([]byte, bool)   {}

// events forwards memberlist's EventDelegate callbacks into a queue. The
// callbacks append and return; they never block.
type events struct {
	mu   sync.Mutex
	live map[string]Node // copied inside the callbacks, under memberlist's lock
	// leaving holds the nodes whose leave notice (leave.go) came in: the
	// notice is acknowledged only once noted here, so the node's leave
	// reads as a leave even when its Leaving metadata comes later.
	leaving map[string]bool
	queue   []Event
	wake    chan struct{} // capacity 1: "the queue is not empty"
	out     chan Event
	closed  chan struct{}
}

func newEvents() *events {
	e := &events{live: map[string]Node{}, leaving: map[string]bool{}, wake: make(chan struct{}, 1), out: make(chan Event), closed: make(chan struct{})}
	go e.pump()
	return e
}

func (e *events) NotifyJoin(n *memberlist.Node)   { e.push(EventJoin, n) }
func (e *events) NotifyUpdate(n *memberlist.Node) { e.push(EventUpdate, n) }

// NotifyLeave cannot ask memberlist whether the node left or died (the
// Node it passes does not carry that state, and the callback runs under
// memberlist's lock), so the node's leave notice or its last metadata
// decides: Leave sends the one and gossips the other before it goes.
func (e *events) NotifyLeave(n *memberlist.Node) {
	e.mu.Lock()
	noticed := e.leaving[n.Name]
	e.mu.Unlock()
	if m, err := DecodeMeta(n.Meta); noticed || err == nil && m.Leaving {
		e.push(EventLeave, n)
		return
	}
	e.push(EventDead, n)
}

// noteLeaving records a node's leave notice.
func (e *events) noteLeaving(name string) {
	e.mu.Lock()
	e.leaving[name] = true
	e.mu.Unlock()
}

func (e *events) push(k EventKind, n *memberlist.Node) {
	ev := Event{Kind: k, Node: toNode(n)}
	e.mu.Lock()
	switch k {
	case EventJoin:
		delete(e.leaving, ev.Node.Name) // the name's next life
		e.live[ev.Node.Name] = ev.Node
	case EventUpdate:
		e.live[ev.Node.Name] = ev.Node
	default:
		delete(e.leaving, ev.Node.Name)
		delete(e.live, ev.Node.Name)
	}
	e.queue = append(e.queue, ev)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// members copies the live set.
func (e *events) members() []Node {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Node, 0, len(e.live))
	for _, n := range e.live {
		out = append(out, n)
	}
	return out
}

// pump delivers queued events in order until close; out is closed then.
func (e *events) pump() {
	defer close(e.out)
	for {
		e.mu.Lock()
		batch := e.queue
		e.queue = nil
		e.mu.Unlock()
		for _, ev := range batch {
			select {
			case e.out <- ev:
			case <-e.closed:
				return
			}
		}
		select {
		case <-e.wake:
		case <-e.closed:
			return
		}
	}
}

func (e *events) close() { close(e.closed) }
