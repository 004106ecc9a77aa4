package e2e

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/authconn"
	"github.com/pilot-hpc/pilot/pilot/rpc"
)

var addrsRe = regexp.MustCompile(`msg="agent started".* raft=(\S+) rpc=(\S+)`)

// TestWrongCampaignKeyIsRefused starts a node of another campaign (its own
// state directory, so its own key) with the cluster's gossip address as
// its seed: gossip will not let it join, and the cluster's Raft and RPC
// listeners refuse its handshake, while the same handshakes with the
// campaign's key succeed (so the test can tell). The cluster works its
// queue meanwhile, and the intruder runs nothing.
func TestWrongCampaignKeyIsRefused(t *testing.T) {
	skipShort(t)
	lines, ids := sleepTasks(40, "0.05")
	c := newCluster(t, lines)
	a0 := c.start("a0", agentOpts{bootstrap: true, voters: 1})
	c.leader(30 * time.Second)
	seed := a0.gossipAddr()
	m := addrsRe.FindStringSubmatch(a0.logText())
	if seed == "" || m == nil {
		t.Fatalf("agent a0 logged no addresses:\n%s", a0.tail(20))
	}
	raftAddr, rpcAddr := m[1], m[2]

	other := filepath.Join(t.TempDir(), "other.pilot")
	x := c.start("x0", agentOpts{state: other, join: []string{seed}, voters: 1, extra: []string{"--log-level", "debug"}})
	c.eventually(30*time.Second, "the intruder's join refused", func() bool {
		return x.count(`no installed keys could decrypt the message`) >= 2
	})
	for _, l := range strings.Split(x.logText(), "\n") {
		if strings.Contains(l, "msg=join ") {
			t.Logf("the intruder: %s", l)
			break
		}
	}

	key, err := authconn.LoadKey(filepath.Join(c.state, "campaign.key"))
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := authconn.LoadKey(filepath.Join(other, "campaign.key"))
	if err != nil {
		t.Fatal(err)
	}
	if handshake(t, raftAddr, key) != nil {
		t.Fatalf("the Raft handshake with the campaign's key failed: %v", handshake(t, raftAddr, key))
	}
	if err := handshake(t, raftAddr, wrong); !errors.Is(err, authconn.ErrRefused) {
		t.Errorf("the Raft listener took another campaign's key: handshake error %v, want %v", err, authconn.ErrRefused)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	good := rpc.NewClient(rpcAddr, key)
	defer good.Close()
	if err := good.Cancel(ctx, &rpc.CancelRequest{}); err != nil {
		t.Fatalf("an RPC with the campaign's key failed: %v", err)
	}
	bad := rpc.NewClient(rpcAddr, wrong)
	defer bad.Close()
	if err := bad.Cancel(ctx, &rpc.CancelRequest{}); err == nil {
		t.Errorf("the RPC listener served a client with another campaign's key")
	}

	c.waitFinished(len(ids), 60*time.Second)
	for id, r := range c.results(ids) {
		if r.State != "done" || r.Node != "a0" {
			t.Errorf("task %s: %s on %q, want done on a0", id, r.State, r.Node)
		}
	}
	if x.count(`msg="joined the campaign's cluster"`) > 0 || strings.Contains(a0.logText(), "x0") {
		t.Errorf("the intruder got into the cluster; its log:\n%s", x.tail(20))
	}
	if atts := readLines(t, filepath.Join(x.data, "attempts.jsonl")); len(atts) > 0 {
		t.Errorf("the intruder ran %d attempts", len(atts))
	}
}

// handshake dials addr and runs the campaign-key handshake with key.
func handshake(t *testing.T, addr string, key []byte) error {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return authconn.ClientTimeout(conn, key, 5*time.Second)
}
