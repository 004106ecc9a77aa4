package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Net is a private network on this machine for agents that should not
// share one loopback: every host is a network namespace with one veth
// pair to a bridge in the root namespace, on 10.250.X.0/24 (X free when
// the Net is made; the bridge is X.1, hosts X.10 and up). Faults are
// iptables rules inside the hosts' namespaces, in two chains of their
// own: chaos-cut (partitions, UDP drops; Heal flushes it) and chaos-loss
// (random drop). The root namespace reaches every host, so the harness
// reads the agents' HTTP status and 'pilot status' works.
//
// Names carry this process's id and a counter (pc<pid>-<k>-<host>,
// bridge b<pid>-<k>, veths v<pid>-<k>-<i>), so runs in parallel do not
// collide, and NewNet deletes what a dead process of the suite left.
// Close deletes every namespace, veth, bridge and FORWARD rule the Net
// made. Methods are safe for concurrent use. It needs root (ip netns, iptables).
type Net struct {
	prefix  string // pc<pid>-<k>
	bridge  string
	subnet  string // "10.250.X"
	mu      sync.Mutex
	hosts   []*Host
	loss    float64 // the drop probability of every host
	forward bool    // NewNet added forwardRule
	closed  bool
}

// Host is one namespace of a Net.
type Host struct {
	Name string // the agent's name
	NS   string // the namespace, for 'ip netns exec'
	Addr string // its address on the Net
	veth string // the root-namespace end of its veth pair
}

var netCount atomic.Int32

// NewNet makes a new Net: its bridge, up, with the first free
// 10.250.X.0/24 from X = pid mod 250. It fails with what to do when this
// process is not root or a command is missing.
func NewNet(ctx context.Context) (*Net, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("chaos: the network scenarios need root (they make network namespaces, veths, a bridge and iptables rules); run 'make chaos' or the test as root")
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("chaos: the network scenarios need %s: %w (install iproute2 and iptables)", tool, err)
		}
	}
	sweepNets(ctx)
	pid, k := os.Getpid(), netCount.Add(1)
	n := &Net{prefix: fmt.Sprintf("pc%d-%d", pid, k), bridge: fmt.Sprintf("b%d-%d", pid, k)}
	x, err := freeSubnet(ctx, pid+int(k))
	if err != nil {
		return nil, err
	}
	n.subnet = fmt.Sprintf("10.250.%d", x)
	if err := runTool(ctx, "ip", "link", "add", n.bridge, "type", "bridge"); err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"addr", "add", n.subnet + ".1/24", "dev", n.bridge},
		{"link", "set", n.bridge, "up"},
	} {
		if err := runTool(ctx, "ip", args...); err != nil {
			n.Close()
			return nil, err
		}
	}
	// Bridged frames pass this namespace's FORWARD chain (br_netfilter):
	// where it drops by default (Docker sets that) no host would reach
	// another.
	if out, err := exec.CommandContext(ctx, "iptables", "-w", "-S", "FORWARD").Output(); err == nil && bytes.Contains(out, []byte("-P FORWARD DROP")) {
		if err := runTool(ctx, "iptables", append([]string{"-w", "-I"}, n.forwardRule()...)...); err != nil {
			n.Close()
			return nil, err
		}
		n.forward = true
	}
	return n, nil
}

// forwardRule is the FORWARD rule that lets the bridge's frames through.
func (n *Net) forwardRule() []string {
	return []string{"FORWARD", "-i", n.bridge, "-o", n.bridge, "-j", "ACCEPT"}
}

// freeSubnet picks X of a 10.250.X.0/24 no route of this machine uses,
// starting from seed mod 250.
func freeSubnet(ctx context.Context, seed int) (int, error) {
	out, err := exec.CommandContext(ctx, "ip", "-4", "route", "show").Output()
	if err != nil {
		return 0, fmt.Errorf("chaos: ip -4 route show: %w", err)
	}
	for i := range 250 {
		x := 1 + (seed+i)%250
		if !bytes.Contains(out, []byte(fmt.Sprintf("10.250.%d.0/24", x))) {
			return x, nil
		}
	}
	return 0, errors.New("chaos: every 10.250.X.0/24 is routed on this machine: delete stale bridges (ip -br link | grep '^b[0-9]')")
}

// sweepNets deletes the namespaces, bridges and FORWARD rules of Nets
// whose process is gone (a suite killed before its Close ran).
func sweepNets(ctx context.Context) {
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if pid, ok := netOwner(e.Name(), "pc"); ok && !processExists(pid) {
			_ = runTool(ctx, "ip", "netns", "del", e.Name())
		}
	}
	links, _ := os.ReadDir("/sys/class/net")
	for _, l := range links {
		if pid, ok := netOwner(l.Name(), "b"); ok && !processExists(pid) {
			_ = runTool(ctx, "ip", "link", "del", l.Name())
		}
	}
	out, _ := exec.CommandContext(ctx, "iptables", "-w", "-S", "FORWARD").Output()
	for bridge, rule := range forwardRules(string(out)) {
		if pid, ok := netOwner(bridge, "b"); ok && !processExists(pid) {
			_ = runTool(ctx, "iptables", append([]string{"-w", "-D"}, rule...)...)
		}
	}
}

// forwardRules picks the rules of the form forwardRule out of 'iptables
// -S FORWARD', by bridge.
func forwardRules(out string) map[string][]string {
	rules := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 8 && f[0] == "-A" && f[2] == "-i" && f[4] == "-o" && f[3] == f[5] && f[6] == "-j" && f[7] == "ACCEPT" {
			rules[f[3]] = f[1:]
		}
	}
	return rules
}

// netOwner reads the process id out of a name made by a Net: prefix,
// the pid, '-', the counter.
func netOwner(name, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	digits, tail, ok := strings.Cut(rest, "-")
	if !ok || tail == "" || tail[0] < '0' || tail[0] > '9' {
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	return pid, err == nil && pid > 0
}

func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Subnet is the Net's /24 ("10.250.X.0/24").
func (n *Net) Subnet() string { return n.subnet + ".0/24" }

// Host returns the host name, making its namespace on first use: wired to
// the bridge, with its two fault chains (and the loss Loss set last).
func (n *Net) Host(ctx context.Context, name string) (*Host, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, errors.New("chaos: the Net is closed")
	}
	for _, h := range n.hosts {
		if h.Name == name {
			return h, nil
		}
	}
	i := len(n.hosts)
	if i >= 240 {
		return nil, errors.New("chaos: a Net holds at most 240 hosts")
	}
	h := &Host{Name: name, NS: n.prefix + "-" + name, Addr: fmt.Sprintf("%s.%d", n.subnet, 10+i),
		veth: fmt.Sprintf("v%s-%d", strings.TrimPrefix(n.prefix, "pc"), i)}
	if err := runTool(ctx, "ip", "netns", "add", h.NS); err != nil {
		return nil, err
	}
	n.hosts = append(n.hosts, h) // Close deletes what is made from here on
	steps := [][]string{
		{"ip", "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.NS},
		{"ip", "link", "set", h.veth, "master", n.bridge, "up"},
		{"ip", "-n", h.NS, "addr", "add", h.Addr + "/24", "dev", "eth0"},
		{"ip", "-n", h.NS, "link", "set", "lo", "up"},
		{"ip", "-n", h.NS, "link", "set", "eth0", "up"},
	}
	steps = append(steps, h.iptables("-N", chainCut), h.iptables("-A", "INPUT", "-j", chainCut), h.iptables("-A", "OUTPUT", "-j", chainCut),
		h.iptables("-N", chainLoss), h.iptables("-A", "INPUT", "-j", chainLoss))
	steps = append(steps, n.lossRules(h, n.loss)...)
	for _, s := range steps {
		if err := runTool(ctx, s[0], s[1:]...); err != nil {
			return nil, err
		}
	}
	return h, nil
}

const (
	chainCut  = "chaos-cut"
	chainLoss = "chaos-loss"
)

// iptables is the command line of an iptables call inside h's namespace.
func (h *Host) iptables(args ...string) []string {
	return append([]string{"ip", "netns", "exec", h.NS, "iptables", "-w"}, args...)
}

// Wrap is the command prefix that runs a program inside h's namespace.
func (h *Host) Wrap() []string { return []string{"ip", "netns", "exec", h.NS} }

// hostsOf returns the hosts of names, in order; an unknown name is an error.
func (n *Net) hostsOf(names []string) ([]*Host, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*Host
	for _, name := range names {
		found := false
		for _, h := range n.hosts {
			if h.Name == name {
				out, found = append(out, h), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("chaos: no host %q on net %s", name, n.prefix)
		}
	}
	return out, nil
}

// Partition cuts the traffic between hosts of different groups (every
// protocol; the hosts still reach the root namespace and the shared
// filesystem). Hosts in no group are untouched.
func (n *Net) Partition(ctx context.Context, groups ...[]string) error {
	return n.cut(ctx, nil, groups)
}

// DropUDP drops UDP (gossip probes and broadcasts) between the hosts of
// different groups; TCP passes.
func (n *Net) DropUDP(ctx context.Context, groups ...[]string) error {
	return n.cut(ctx, []string{"-p", "udp"}, groups)
}

// cut adds DROP rules with match to chaos-cut of every host of every
// group: in from and out to every host of the other groups.
func (n *Net) cut(ctx context.Context, match []string, groups [][]string) error {
	hosts := make([][]*Host, len(groups))
	for i, g := range groups {
		var err error
		if hosts[i], err = n.hostsOf(g); err != nil {
			return err
		}
	}
	for _, rule := range cutRules(match, hosts) {
		if err := runTool(ctx, rule[0], rule[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// cutRules are the iptables commands of a cut between groups of hosts.
func cutRules(match []string, groups [][]*Host) [][]string {
	var out [][]string
	for i, g := range groups {
		for _, h := range g {
			for j, other := range groups {
				if i == j {
					continue
				}
				for _, o := range other {
					in := append(append([]string{"-A", chainCut}, match...), "-s", o.Addr, "-j", "DROP")
					outr := append(append([]string{"-A", chainCut}, match...), "-d", o.Addr, "-j", "DROP")
					out = append(out, h.iptables(in...), h.iptables(outr...))
				}
			}
		}
	}
	return out
}

// Heal removes every partition and UDP drop (the random loss stays).
func (n *Net) Heal(ctx context.Context) error {
	for _, h := range n.all() {
		c := h.iptables("-F", chainCut)
		if err := runTool(ctx, c[0], c[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// Loss drops each packet a host receives from another host of the Net
// with probability p, on every host (those made later too); 0 removes the
// loss. It is iptables' statistic match: this kernel may have no netem.
func (n *Net) Loss(ctx context.Context, p float64) error {
	n.mu.Lock()
	n.loss = p
	n.mu.Unlock()
	for _, h := range n.all() {
		for _, c := range n.lossRules(h, p) {
			if err := runTool(ctx, c[0], c[1:]...); err != nil {
				return err
			}
		}
	}
	return nil
}

// lossRules are the commands that set h's loss to p.
func (n *Net) lossRules(h *Host, p float64) [][]string {
	cmds := [][]string{h.iptables("-F", chainLoss)}
	if p > 0 {
		cmds = append(cmds, h.iptables("-A", chainLoss, "-s", n.Subnet(), "-m", "statistic", "--mode", "random",
			"--probability", strconv.FormatFloat(p, 'f', -1, 64), "-j", "DROP"))
	}
	return cmds
}

func (n *Net) all() []*Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Host(nil), n.hosts...)
}

// Close deletes every veth pair, namespace, the bridge and its FORWARD
// rule, whatever the state of the Net; it runs with its own deadline, so a cancelled run
// still cleans up. Processes still inside a namespace keep it alive until
// they exit: stop the agents first.
func (n *Net) Close() error {
	n.mu.Lock()
	hosts := n.hosts
	n.hosts, n.closed = nil, true
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, h := range hosts {
		// The veth first: a deleted namespace takes its pair down later,
		// in the kernel's own time.
		if _, err := os.Stat(filepath.Join("/sys/class/net", h.veth)); err == nil {
			errs = append(errs, runTool(ctx, "ip", "link", "del", h.veth))
		}
		if _, err := os.Stat(filepath.Join("/run/netns", h.NS)); err == nil {
			errs = append(errs, runTool(ctx, "ip", "netns", "del", h.NS))
		}
	}
	if _, err := os.Stat(filepath.Join("/sys/class/net", n.bridge)); err == nil {
		errs = append(errs, runTool(ctx, "ip", "link", "del", n.bridge))
	}
	if n.forward {
		errs = append(errs, runTool(ctx, "iptables", append([]string{"-w", "-D"}, n.forwardRule()...)...))
	}
	return errors.Join(errs...)
}

// runTool runs a command and returns its stderr in the error.
func runTool(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("chaos: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
