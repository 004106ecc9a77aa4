package coordtest

import (
	"errors"
	"net"
	"sync"
)

// netctl cuts and restores the links between the nodes of a cluster. Raft
// sends every request on a connection its sender dialed, so it is enough
// to refuse dials across groups and to close the dialed connections that
// cross them: both directions are cut when both ends check their own dials.
// Nodes this cluster did not start (added by a test) are never cut.
type netctl struct {
	mu    sync.Mutex
	addrs map[string]int // node address → index
	group map[int]int    // node index → group; absent: group 0
	conns map[*tracked]struct{}
}

type tracked struct {
	net.Conn
	from, to int
	n        *netctl
	once     sync.Once
}

// Close forgets the connection and closes it.
func (t *tracked) Close() error {
	t.once.Do(func() {
		t.n.mu.Lock()
		delete(t.n.conns, t)
		t.n.mu.Unlock()
	})
	return t.Conn.Close()
}

func newNetctl() *netctl {
	return &netctl{addrs: map[string]int{}, group: map[int]int{}, conns: map[*tracked]struct{}{}}
}

var errCut = errors.New("coordtest: the link is partitioned")

func (n *netctl) allowed(a, b int) bool { return n.group[a] == n.group[b] }

// wrap is node i's ConnWrapper; next, when set, is the test's own wrapper
// and runs first.
func (n *netctl) wrap(i int, next func(net.Conn, bool) (net.Conn, error)) func(net.Conn, bool) (net.Conn, error) {
	return func(conn net.Conn, isDialer bool) (net.Conn, error) {
		peerAddr := conn.RemoteAddr().String()
		if next != nil {
			var err error
			if conn, err = next(conn, isDialer); err != nil {
				return nil, err
			}
		}
		if !isDialer {
			return conn, nil
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		peer, ok := n.addrs[peerAddr]
		if !ok {
			return conn, nil
		}
		if !n.allowed(i, peer) {
			conn.Close()
			return nil, errCut
		}
		t := &tracked{Conn: conn, from: i, to: peer, n: n}
		n.conns[t] = struct{}{}
		return t, nil
	}
}

// cut puts nodes into groups and closes every dialed link across them.
func (n *netctl) cut(groups [][]int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.group = map[int]int{}
	for g, nodes := range groups {
		for _, i := range nodes {
			n.group[i] = g + 1
		}
	}
	for t := range n.conns {
		if !n.allowed(t.from, t.to) {
			t.Conn.Close()
			delete(n.conns, t)
		}
	}
}

// Partition isolates each given group of nodes from every other node: the
// nodes of a group still reach one another; nodes in no group form one
// more group together. Open connections across groups are closed.
func (c *Cluster) Partition(groups ...[]int) { c.net.cut(groups) }

// Heal restores every link.
func (c *Cluster) Heal() { c.net.cut(nil) }
