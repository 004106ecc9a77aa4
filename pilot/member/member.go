package member

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Timing picks memberlist's failure-detection profile.
type Timing uint8

const (
	// TimingLAN is memberlist's LAN profile: a node is declared dead some
	// seconds after it stops answering; the default.
	TimingLAN Timing = iota
	// TimingLocal is memberlist's loopback profile, for 'pilot local'.
	TimingLocal
)

// Config configures one node's membership.
type Config struct {
	// Name is unique in the cluster; empty means hostname-<random hex>.
	Name string
	// BindAddr is the address to gossip on (HPC nodes have several
	// interfaces: pick the high-speed one); empty means 0.0.0.0.
	BindAddr string
	// BindPort is the UDP and TCP port; 0 picks a free one (see Addr).
	BindPort int
	// AdvertiseAddr is the address others reach this node at, when it
	// differs from BindAddr (NAT, a wildcard bind).
	AdvertiseAddr string
	// Key is the campaign key: 16, 24 or 32 bytes (AES-128/192/256).
	Key  []byte
	Meta Meta
	// Timing is the failure-detection profile; ProbeInterval, when set,
	// overrides its probe interval (a node is suspected after a failed
	// probe and declared dead some probe intervals later).
	Timing        Timing
	ProbeInterval time.Duration
	Logger        *slog.Logger

	// still (tests only) turns off gossip rounds, probes and the periodic
	// state exchange, so that a view changes only by Join and Sync.
	still bool
}

// Membership is this node's view of the cluster. Its methods are safe for
// concurrent use.
type Membership struct {
	ml     *memberlist.Memberlist
	name   string
	addr   string
	del    *delegate
	ev     *events
	log    *slog.Logger
	mu     sync.Mutex
	meta   Meta
	closed bool
	ready  chan struct{} // closed once ml is set
	acks   leaveAcks
}

// Start creates this node's memberlist, listening but alone until Join.
func Start(cfg Config) (*Membership, error) {
	switch len(cfg.Key) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("membership: the campaign key is %d bytes, want 16, 24 or 32 (gossip is always encrypted)", len(cfg.Key))
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	mc := memberlist.DefaultLANConfig()
	if cfg.Timing == TimingLocal {
		mc = memberlist.DefaultLocalConfig()
	}
	if cfg.ProbeInterval > 0 {
		mc.ProbeInterval = cfg.ProbeInterval
		mc.ProbeTimeout = min(mc.ProbeTimeout, cfg.ProbeInterval/2)
		mc.GossipInterval = min(mc.GossipInterval, cfg.ProbeInterval/2)
	}
	name := cfg.Name
	if name == "" {
		var err error
		if name, err = defaultName(); err != nil {
			return nil, err
		}
	}
	mc.Name = name
	mc.BindAddr = cfg.BindAddr
	if mc.BindAddr == "" {
		mc.BindAddr = "0.0.0.0"
	}
	mc.BindPort = cfg.BindPort
	mc.AdvertisePort = cfg.BindPort
	if cfg.AdvertiseAddr != "" {
		mc.AdvertiseAddr = cfg.AdvertiseAddr
	}
	if cfg.still {
		mc.GossipInterval, mc.ProbeInterval, mc.PushPullInterval = 0, 0, 0
	}
	// An agent restarted on its node keeps its name and gets new ports:
	// once its old self is dead, others take the new address at once,
	// not when they forget the dead one (GossipToTheDeadTime later;
	// chaos crash-persist: a restarted agent sat out 15-30 s, off Raft).
	mc.DeadNodeReclaimTime = time.Nanosecond
	mc.SecretKey = cfg.Key
	mc.GossipVerifyIncoming = true
	mc.GossipVerifyOutgoing = true
	mc.Logger = log.New(logBridge{logger}, "", 0)

	meta, err := EncodeMeta(cfg.Meta)
	if err != nil {
		return nil, err
	}
	m := &Membership{del: &delegate{meta: meta}, ev: newEvents(), log: logger, meta: cfg.Meta, name: name, ready: make(chan struct{})}
	m.del.onMsg = m.handleMsg
	mc.Delegate = m.del
	mc.Events = m.ev
	ml, err := memberlist.Create(mc)
	if err != nil {
		m.ev.close()
		return nil, fmt.Errorf("membership: starting gossip on %s:%d: %w", mc.BindAddr, cfg.BindPort, err)
	}
	m.ml = ml
	close(m.ready)
	local := ml.LocalNode()
	m.addr = net.JoinHostPort(local.Addr.String(), strconv.Itoa(int(local.Port)))
	logger.Info("gossip started", "node", name, "addr", m.Addr())
	return m, nil
}

func defaultName() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("membership: node name: %w", err)
	}
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("membership: node name: %w", err)
	}
	return host + "-" + hex.EncodeToString(b), nil
}

// ErrNoSeed is returned by Join when no seed answered (with the campaign
// key): the caller starts a new cluster or retries.
var ErrNoSeed = errors.New("no seed could be joined")

// Join contacts the seeds (gossip host:port) and returns how many answered.
// A seed with another campaign key does not count. A seed answers with its
// state before it merges this node's, so when Join returns a seed may not
// list this node yet.
func (m *Membership) Join(seeds []string) (int, error) {
	if len(seeds) == 0 {
		return 0, nil
	}
	n, err := m.ml.Join(seeds)
	if n == 0 {
		return 0, fmt.Errorf("%w: tried %v: %v (do they use this campaign's key?)", ErrNoSeed, seeds, err)
	}
	if err != nil {
		m.log.Warn("some seeds did not answer", "joined", n, "err", err)
	}
	return n, nil
}

// syncPeers bounds how many members one Sync asks: any one that knows a
// member brings it in.
const syncPeers = 3

// Sync exchanges the full membership state with up to three other live
// members at random (a push-pull, as at join) and returns how many
// answered. A member that joined at about the same time as this node may
// be missing from its view until the next periodic exchange (15-30 s):
// gossip announces a join to a few random nodes only. Call Sync before
// taking a member's absence for its death. It blocks for up to memberlist's
// TCP timeout per member that does not answer.
func (m *Membership) Sync() (int, error) {
	var others []string
	for _, n := range m.Members() {
		if n.Name != m.name {
			others = append(others, n.Addr)
		}
	}
	if len(others) == 0 {
		return 0, nil
	}
	mrand.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	n, err := m.ml.Join(others[:min(len(others), syncPeers)])
	if n == 0 {
		return 0, fmt.Errorf("membership: sync with %d members: %w", min(len(others), syncPeers), err)
	}
	return n, nil
}

// Events delivers every membership change in order, including this node's
// own join. It is closed by Leave or Shutdown. Read it continuously: events
// queue in memory until read.
func (m *Membership) Events() <-chan Event { return m.ev.out }

// Name is this node's name.
func (m *Membership) Name() string { return m.name }

// Addr is this node's gossip address as others see it (with the real port
// when BindPort was 0).
func (m *Membership) Addr() string { return m.addr }

// Members lists the live members (alive or suspect), this node included,
// sorted by name. It is built from the same callbacks as Events (memberlist's
// own Members hands out nodes it keeps changing, which races).
func (m *Membership) Members() []Node {
	out := m.ev.members()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Addrs lists the gossip addresses of the live members, for the members file.
func (m *Membership) Addrs() []string {
	var out []string
	for _, n := range m.Members() {
		out = append(out, n.Addr)
	}
	return out
}

// Meta is this node's current metadata.
func (m *Membership) Meta() Meta {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.meta
}

// SetMeta changes this node's metadata (drain, a new role) and gossips it,
// waiting up to timeout for the broadcast to go out.
func (m *Membership) SetMeta(change func(*Meta), timeout time.Duration) error {
	m.mu.Lock()
	next := m.meta
	change(&next)
	b, err := EncodeMeta(next)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	m.meta = next
	m.del.set(b)
	m.mu.Unlock()
	if err := m.ml.UpdateNode(timeout); err != nil {
		return fmt.Errorf("membership: gossiping new metadata: %w", err)
	}
	return nil
}

// Shutdown stops gossip at once, without telling anyone (others will
// declare this node dead). Calling it again does nothing.
func (m *Membership) Shutdown() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	err := m.ml.Shutdown()
	m.ev.close()
	return err
}
