package pilot

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/coordinator/sched"
	"github.com/pilot-hpc/pilot/pilot/member"
	"github.com/pilot-hpc/pilot/scratchcache/stage"
)

// Config configures one agent. 'pilot agent' fills it from flags and the
// site config; 'pilot local' and the tests fill it directly.
type Config struct {
	// Name is this node's name in the cluster: unique, and stable across
	// restarts of this node's agent (it is the Raft server id). Default:
	// the hostname.
	Name string
	// Queue is the campaign's upstream: a JSONL file path or a URL.
	Queue string
	// StateDir is the campaign's directory on the shared filesystem (the
	// campaign key, the members file). Default: the file queue's state
	// directory, QUEUE.pilot/.
	StateDir string
	// DataDir is this node's own directory on node-local disk (the Raft
	// log, the attempt log). Default: $TMPDIR/pilot-NAME.
	DataDir string
	// ScratchRoot is the scratch cache's root. Default: StateDir/scratch.
	ScratchRoot string
	// Store is where big outputs are staged. Default: file://StateDir/outputs.
	Store stage.Store

	// Bind is the IP address every listener binds to (gossip, Raft, RPC);
	// HPC nodes have several interfaces: pick the fast one. Default: the
	// address of the hostname, else 127.0.0.1.
	Bind string
	// HTTP is where the status server listens (GET /status, GET /metrics,
	// POST /flush). Default: Bind, any free port; the leader publishes its
	// address in STATE/leader.json.
	HTTP string
	// GossipPort, RaftPort, RPCPort: 0 picks a free port.
	GossipPort, RaftPort, RPCPort int
	// Seeds are gossip addresses to join; empty: the members file.
	Seeds []string
	// Bootstrap lets this agent start a new cluster when no seed answers
	// (the first node of the first pilot). Others wait for a seed.
	Bootstrap bool
	// JoinTimeout bounds the wait for a seed when not bootstrapping.
	JoinTimeout time.Duration

	// Pilot is the pilot (Slurm job) id; End its allocation's end (zero:
	// none known). DrainMargin before End the agent drains.
	Pilot       string
	End         time.Time
	DrainMargin time.Duration
	// Resources overrides what the node detects.
	Resources ResourceOverrides
	// Voters is how many Raft voters the cluster keeps (3 or 5).
	Voters int
	// Cluster names this cluster to the upstream queue. Default: the
	// campaign's state directory's base name.
	Cluster string
	// Resolve turns a task's "fn" into a command at this site.
	Resolve Resolver
	// Sched tunes the scheduler; Shapes are pilots the site may still
	// start (see coordinator.LeaderConfig).
	Sched  sched.Config
	Shapes []sched.Shape
	// LeaseTTL of upstream leases (0: the leader's default).
	LeaseTTL time.Duration
	// Grace between SIGTERM and SIGKILL of a task (0: the runner's default).
	Grace time.Duration
	// TaskTimerSlack is the timer slack tasks run with when the agent's
	// threads have another (0: the agent's).
	TaskTimerSlack time.Duration

	// Loopback tunes timeouts for a cluster on one machine ('pilot local',
	// tests): fast failure detection and elections.
	Loopback bool
	// SnapshotThreshold, when set, makes Raft snapshot the ledger once
	// this many entries were applied since the last snapshot, checked
	// every second, and keep as many entries after it (crash tests: many
	// snapshots, and followers caught up by snapshot). Zero: raft's
	// defaults (8192 entries, checked every 2 minutes).
	SnapshotThreshold uint64
	// QueueToken authenticates to a queue server URL.
	QueueToken string
	Logger     *slog.Logger
}

func (c *Config) withDefaults() error {
	if c.Queue == "" {
		return errors.New("no queue: give the campaign's queue file or URL")
	}
	if c.Name == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("node name: %w", err)
		}
		c.Name = h
	}
	isURL := strings.HasPrefix(c.Queue, "http://") || strings.HasPrefix(c.Queue, "https://")
	if c.StateDir == "" {
		if isURL {
			return errors.New("a queue URL needs a campaign state directory (--state DIR on the shared filesystem)")
		}
		c.StateDir = c.Queue + ".pilot"
	}
	if c.DataDir == "" {
		c.DataDir = filepath.Join(os.TempDir(), "pilot-"+c.Name)
	}
	if c.ScratchRoot == "" {
		c.ScratchRoot = filepath.Join(c.StateDir, "scratch")
	}
	if c.Bind == "" {
		c.Bind = "127.0.0.1"
	}
	if c.JoinTimeout == 0 {
		c.JoinTimeout = 2 * time.Minute
	}
	if c.Pilot == "" {
		c.Pilot = "local"
	}
	if c.DrainMargin == 0 {
		c.DrainMargin = 2 * time.Minute
	}
	if c.Voters == 0 {
		c.Voters = 3
	}
	if c.Voters != 1 && c.Voters != 3 && c.Voters != 5 {
		return fmt.Errorf("voters: %d; a cluster keeps 1, 3 or 5 Raft voters", c.Voters)
	}
	if c.Cluster == "" {
		c.Cluster = strings.TrimSuffix(filepath.Base(c.StateDir), ".pilot")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// keyFile is where the campaign key lives: readable by its owner only.
func (c *Config) keyFile() string { return filepath.Join(c.StateDir, "campaign.key") }

// membersFile lists the live cluster's gossip addresses for new pilots.
func (c *Config) membersFile() string { return filepath.Join(c.StateDir, "members") }

func (c *Config) timeouts() coordinator.Timeouts {
	if c.Loopback {
		return localTimeouts
	}
	return coordinator.DefaultTimeouts
}

// localTimeouts are Raft's timeouts for agent processes on one machine.
// Not coordinator.LoopbackTimeouts (made for one process): agents share
// the machine's cores with their tasks, and under load a 150ms leader lease
// lapsed every few seconds (measured: 7 terms in 20s at a load average of
// 17 on 2 cores). Failover takes a second or two instead.
var localTimeouts = coordinator.Timeouts{Heartbeat: time.Second, Election: time.Second, LeaderLease: 500 * time.Millisecond, Commit: 5 * time.Millisecond}

func (c *Config) timing() member.Timing {
	if c.Loopback {
		return member.TimingLocal
	}
	return member.TimingLAN
}

// snapshotInterval is how often Raft checks whether to snapshot: every
// second with a SnapshotThreshold, else raft's default.
func (c *Config) snapshotInterval() time.Duration {
	if c.SnapshotThreshold > 0 {
		return time.Second
	}
	return 0
}
