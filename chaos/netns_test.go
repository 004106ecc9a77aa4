package chaos

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNetOwner(t *testing.T) {
	for _, tc := range []struct {
		name, prefix string
		pid          int
		ok           bool
	}{
		{"pc1234-1-a0", "pc", 1234, true},
		{"pc1234-12-a10", "pc", 1234, true},
		{"b99-3", "b", 99, true},
		{"br0", "b", 0, false},
		{"bond-1", "b", 0, false},
		{"b12-x", "b", 0, false},
		{"pc12", "pc", 0, false},
		{"slurm-node1", "pc", 0, false},
		{"b-1-2", "b", 0, false},
	} {
		pid, ok := netOwner(tc.name, tc.prefix)
		if ok != tc.ok || (ok && pid != tc.pid) {
			t.Errorf("netOwner(%q, %q) = %d, %v; want %d, %v", tc.name, tc.prefix, pid, ok, tc.pid, tc.ok)
		}
	}
}

func TestForwardRules(t *testing.T) {
	out := `-P FORWARD DROP
-A FORWARD -j DOCKER-USER
-A FORWARD -i b123-1 -o b123-1 -j ACCEPT
-A FORWARD -i br0 -o eth0 -j ACCEPT
-A FORWARD -i sbr0 -o sbr0 -j ACCEPT
`
	got := forwardRules(out)
	want := map[string]string{"b123-1": "FORWARD -i b123-1 -o b123-1 -j ACCEPT", "sbr0": "FORWARD -i sbr0 -o sbr0 -j ACCEPT"}
	if len(got) != len(want) {
		t.Fatalf("forwardRules = %v, want %v", got, want)
	}
	for b, r := range want {
		if strings.Join(got[b], " ") != r {
			t.Errorf("bridge %s: %q, want %q", b, strings.Join(got[b], " "), r)
		}
	}
	if r := strings.Join((&Net{bridge: "b123-1"}).forwardRule(), " "); r != want["b123-1"] {
		t.Errorf("forwardRule %q does not read back as %q", r, want["b123-1"])
	}
}

func TestCutRules(t *testing.T) {
	a := &Host{Name: "a0", NS: "ns-a0", Addr: "10.250.1.10"}
	b := &Host{Name: "a1", NS: "ns-a1", Addr: "10.250.1.11"}
	c := &Host{Name: "a2", NS: "ns-a2", Addr: "10.250.1.12"}
	got := cutRules([]string{"-p", "udp"}, [][]*Host{{a}, {b, c}})
	var lines []string
	for _, r := range got {
		lines = append(lines, strings.Join(r, " "))
	}
	want := []string{
		"ip netns exec ns-a0 iptables -w -A chaos-cut -p udp -s 10.250.1.11 -j DROP",
		"ip netns exec ns-a0 iptables -w -A chaos-cut -p udp -d 10.250.1.11 -j DROP",
		"ip netns exec ns-a0 iptables -w -A chaos-cut -p udp -s 10.250.1.12 -j DROP",
		"ip netns exec ns-a0 iptables -w -A chaos-cut -p udp -d 10.250.1.12 -j DROP",
		"ip netns exec ns-a1 iptables -w -A chaos-cut -p udp -s 10.250.1.10 -j DROP",
		"ip netns exec ns-a1 iptables -w -A chaos-cut -p udp -d 10.250.1.10 -j DROP",
		"ip netns exec ns-a2 iptables -w -A chaos-cut -p udp -s 10.250.1.10 -j DROP",
		"ip netns exec ns-a2 iptables -w -A chaos-cut -p udp -d 10.250.1.10 -j DROP",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("cut rules:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestNet makes a real Net of two hosts: a TCP connection from one to the
// other passes, a partition stops it, a heal lets it pass again, and
// Close leaves no namespace, veth or bridge. It needs root.
func TestNet(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("makes network namespaces: needs root")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("listens and dials inside the namespaces with python3, which is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nw, err := NewNet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			nw.Close()
		}
	})
	a, err := nw.Host(ctx, "a0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := nw.Host(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := nw.Host(ctx, "a1"); again != b {
		t.Fatalf("Host(a1) made a second host %+v", again)
	}
	// A listener in b's namespace (a Go test cannot move one of its
	// threads there safely, so a small python3 program listens).
	ln := exec.CommandContext(ctx, "ip", "netns", "exec", b.NS, "python3", "-c",
		"import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('"+b.Addr+"',7777))\ns.listen(16)\nprint('up',flush=True)\nwhile True:\n c,_=s.accept(); c.close()")
	stdout, err := ln.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ln.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Process.Kill(); ln.Wait() })
	if _, err := stdout.Read(make([]byte, 3)); err != nil {
		t.Fatalf("the listener in %s did not start: %v", b.NS, err)
	}
	dial := func() error {
		return exec.CommandContext(ctx, "ip", "netns", "exec", a.NS, "python3", "-c",
			"import socket\nsocket.create_connection(('"+b.Addr+"',7777),timeout=0.5).close()").Run()
	}
	if err := dial(); err != nil {
		t.Fatalf("a0 cannot reach a1 on a healthy net: %v", err)
	}
	// The root namespace reaches the hosts (the harness reads their status).
	if c, err := net.DialTimeout("tcp", b.Addr+":7777", time.Second); err != nil {
		t.Fatalf("the root namespace cannot reach a1: %v", err)
	} else {
		c.Close()
	}
	if err := nw.Partition(ctx, []string{"a0"}, []string{"a1"}); err != nil {
		t.Fatal(err)
	}
	if err := dial(); err == nil {
		t.Fatal("a0 reached a1 across a partition")
	}
	if err := nw.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := dial(); err != nil {
		t.Fatalf("a0 cannot reach a1 after the heal: %v", err)
	}
	ln.Process.Kill()
	ln.Wait()
	closed = true
	if err := nw.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join("/run/netns", a.NS), filepath.Join("/run/netns", b.NS),
		filepath.Join("/sys/class/net", a.veth), filepath.Join("/sys/class/net", nw.bridge)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is still there after Close", p)
		}
	}
}

// TestNetRunCleansUpOnError: a network scenario whose setup fails leaves
// no namespace behind. It needs root.
func TestNetRunCleansUpOnError(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("makes network namespaces: needs root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env := &Env{Bin: pilotBin, Dir: t.TempDir(), Scale: 1, Logf: t.Logf}
	var made *Net
	_, _, _, err := netRun(ctx, env, sleepQueue(1, 0), 2, 1, func(nw *Net) error {
		made = nw
		return errors.New("setup refused")
	})
	if err == nil || err.Error() != "setup refused" {
		t.Fatalf("netRun: %v, want the setup's error", err)
	}
	for _, h := range []string{"a0", "a1"} {
		if _, err := os.Stat(filepath.Join("/run/netns", made.prefix+"-"+h)); err == nil {
			t.Errorf("namespace %s-%s is still there", made.prefix, h)
		}
	}
}
