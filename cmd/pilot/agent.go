package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilot-hpc/pilot/batch"
	"github.com/pilot-hpc/pilot/coordinator/sched"
	"github.com/pilot-hpc/pilot/internal/timerslack"
	"github.com/pilot-hpc/pilot/pilot"
	"github.com/pilot-hpc/pilot/scratchcache/stage"
	"github.com/pilot-hpc/pilot/site"
)

func init() {
	var (
		cfg        pilot.Config
		sitePath   string
		cores      int
		memMB      int64
		cpus       []int
		seeds      []string
		endIn      time.Duration
		logLevel   string
		storeURI   string
		bindIface  string
		wallMargin time.Duration
		drainFile  string
		timerSlack time.Duration
	)
	cmd := &cobra.Command{
		Use:   "agent --queue FILE|URL [--site FILE]",
		Short: "Run the agent of this node (srun starts one per node of a pilot)",
		Long: `Run the agent of this node. Every node of a pilot runs one (scripts/sbatch/pilot.sh
starts them with srun); 'pilot local' starts several on one machine.

The agent joins its campaign's cluster (seeds from --join, else the members file in
the campaign's state directory), or starts a new cluster when it may (--bootstrap,
or the first node of a Slurm job) and nobody answers. It runs the tasks the leader
gives it, pinned to their cores, and drains on SIGUSR1, SIGTERM or before its
allocation ends: no new task, leadership and vote handed over, running tasks
finished or requeued (without spending their retries), then it leaves.

Inside a Slurm job the pilot id, the node's cores and memory, and the allocation's
end are read from Slurm.`,
		Example: `  pilot agent --queue tasks.jsonl --bootstrap
  srun --no-kill --ntasks-per-node=1 pilot agent --site site.toml --queue tasks.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			slackWas, slackErr := timerslack.Ensure(timerSlack) // may execute the agent again
			if os.Getenv("GOGC") == "" {
				// An agent's live heap is a few MB to a few hundred (its
				// window of the ledger); at Go's default it collects every
				// few MB allocated, ~100 times a second on short tasks,
				// 10% of its CPU.
				debug.SetGCPercent(agentGCPercent)
			}
			cfg.Logger = newLogger(logLevel)
			if slackErr != nil {
				cfg.Logger.Warn("the agent's threads keep the kernel's timer slack", "err", slackErr)
			}
			cfg.TaskTimerSlack = slackWas
			cfg.Resources = pilot.ResourceOverrides{Cores: cores, MemMB: memMB, CPUs: cpus}
			if sitePath != "" {
				sc, err := site.Load(sitePath)
				if err != nil {
					return withHint(err, "fix the site config; 'pilot agent --help' lists what it may hold")
				}
				applySite(&cfg, sc, &storeURI, &bindIface)
			}
			if bindIface != "" && !cmd.Flags().Changed("bind") {
				addr, err := interfaceAddr(bindIface)
				if err != nil {
					return err
				}
				cfg.Bind = addr
			}
			cfg.Seeds = seeds
			if storeURI != "" {
				st, err := stage.Open(storeURI, stage.Options{S3: stage.S3OptionsFromEnv()})
				if err != nil {
					return withHint(err, "results store: give file:///DIR or s3://BUCKET/PREFIX")
				}
				cfg.Store = st
			}
			if err := fromSlurm(cmd.Context(), &cfg); err != nil {
				return err
			}
			if endIn > 0 {
				cfg.End = time.Now().Add(endIn)
			}
			if wallMargin > 0 {
				cfg.Sched = sched.DefaultConfig()
				cfg.Sched.Margin = wallMargin
			}
			pilot.Version = version
			drain := make(chan pilot.Drain, 1)
			usr1 := make(chan os.Signal, 1)
			signal.Notify(usr1, syscall.SIGUSR1)
			defer signal.Stop(usr1)
			go func() {
				for range usr1 {
					select {
					case drain <- pilot.Drain{}:
					default:
					}
				}
			}()
			if drainFile != "" {
				wctx, stop := context.WithCancel(cmd.Context())
				defer stop()
				go watchDrainFile(wctx, drainFile, drain)
			}
			if err := pilot.Run(cmd.Context(), cfg, drain); err != nil {
				return unavailable(err, "see the agent's log above; 'pilot status' shows the cluster")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Queue, "queue", os.Getenv("PILOT_QUEUE"), "the campaign's queue: a JSONL file or a 'pilot serve' URL ($PILOT_QUEUE)")
	f.StringVar(&sitePath, "site", os.Getenv("PILOT_SITE"), "the site config file (TOML) ($PILOT_SITE)")
	f.StringVar(&cfg.StateDir, "state", "", "the campaign's state directory on the shared filesystem (default QUEUE.pilot/)")
	f.StringVar(&cfg.DataDir, "data", "", "this node's own directory on node-local disk (default $TMPDIR/pilot-NAME; in a Slurm job $TMPDIR/pilot-NODE-JOB.RESTART)")
	f.StringVar(&cfg.ScratchRoot, "scratch", "", "root of the scratch cache (default STATE/scratch)")
	f.StringVar(&storeURI, "results-store", "", "where big outputs go: file:///DIR or s3://BUCKET/PREFIX (default STATE/outputs)")
	f.StringVar(&cfg.Name, "name", "", "this node's name in the cluster (default the hostname)")
	f.StringVar(&cfg.Bind, "bind", "", "IP address to listen on for gossip, Raft and RPC (default 127.0.0.1)")
	f.StringVar(&bindIface, "bind-interface", "", "network interface whose address to bind (e.g. ib0, hsn0)")
	f.StringVar(&cfg.HTTP, "http", "", "status server address: GET /status, GET /metrics (Prometheus), POST /flush (default BIND:0, any free port; the leader publishes it in STATE/leader.json)")
	f.IntVar(&cfg.GossipPort, "gossip-port", 0, "gossip port (0: any free port)")
	f.IntVar(&cfg.RaftPort, "raft-port", 0, "Raft port (0: any free port)")
	f.IntVar(&cfg.RPCPort, "rpc-port", 0, "agent RPC port (0: any free port)")
	f.StringSliceVar(&seeds, "join", nil, "gossip addresses of live agents to join (default: the members file)")
	f.BoolVar(&cfg.Bootstrap, "bootstrap", false, "start a new cluster if no live one answers")
	f.StringVar(&cfg.Pilot, "pilot", "", "the pilot id (default the Slurm job id, else 'local')")
	f.DurationVar(&endIn, "end-in", 0, "the pilot ends this long from now (default: Slurm's end time, else none)")
	f.DurationVar(&cfg.DrainMargin, "drain-margin", 0, "drain this long before the pilot ends (default 2m)")
	f.StringVar(&drainFile, "drain-file", os.Getenv("PILOT_DRAIN_FILE"), "drain when this file appears; pilot.sh creates it on Slurm's walltime warning ($PILOT_DRAIN_FILE)")
	f.DurationVar(&wallMargin, "walltime-margin", 0, "a task starts only if its estimate (x1.5) plus this ends before its pilot does; the leader's value counts (default 2m)")
	f.IntVar(&cores, "cores", 0, "cores to offer (default: detected, or Slurm's)")
	f.Int64Var(&memMB, "mem-mb", 0, "memory to offer in MiB (default: detected, or Slurm's)")
	f.IntSliceVar(&cpus, "cpus", nil, "OS CPU ids to pin tasks to (default: this process's affinity)")
	f.IntVar(&cfg.Voters, "voters", 0, "Raft voters the cluster keeps: 1, 3 or 5 (default 3)")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", 0, "how long upstream keeps a task leased without renewal (default 2m)")
	f.BoolVar(&cfg.Loopback, "loopback", false, "fast timeouts for a cluster on one machine")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.DurationVar(&timerSlack, "timer-slack", agentTimerSlack, "timer slack of the agent's threads (0: the kernel's, 50us); tasks keep the one the agent was started with")
	f.Uint64Var(&cfg.SnapshotThreshold, "snapshot-threshold", 0, "snapshot the Raft log every this many entries, checked every second (crash tests; default raft's)")
	_ = f.MarkHidden("snapshot-threshold")
	rootCmd.AddCommand(cmd)
}

// applySite fills what the flags left empty from the site config.
func applySite(cfg *pilot.Config, sc *site.Config, storeURI, bindIface *string) {
	set := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	set(&cfg.Queue, sc.Queue)
	set(&cfg.StateDir, sc.StateDir)
	set(&cfg.ScratchRoot, sc.Scratch)
	results := sc.Results
	if results != "" && !strings.Contains(results, "://") {
		results = "file://" + results // the site config allows a plain (absolute) directory
	}
	set(storeURI, results)
	set(&cfg.Bind, sc.Cluster.BindAddr)
	set(bindIface, sc.Cluster.BindInterface)
	if cfg.Voters == 0 {
		cfg.Voters = sc.Cluster.Voters
	}
	if cfg.DrainMargin == 0 {
		cfg.DrainMargin = time.Duration(sc.Slurm.DrainMargin)
	}
	cfg.Cluster = sc.Name
	cfg.Resolve = sc.Resolve
	if sc.Resources.Cores > 0 && cfg.Resources.Cores == 0 {
		cfg.Resources.Cores = sc.Resources.Cores
	}
	if sc.Resources.MemMB > 0 && cfg.Resources.MemMB == 0 {
		cfg.Resources.MemMB = sc.Resources.MemMB
	}
}

// fromSlurm reads the pilot id, the node name and the allocation's end from
// Slurm when the agent runs inside a job; the first node of a job may start
// a new cluster.
func fromSlurm(ctx context.Context, cfg *pilot.Config) error {
	if os.Getenv("SLURM_JOB_ID") == "" {
		return nil
	}
	job, err := batch.FromEnv(os.Getenv)
	if err != nil {
		return withHint(err, "the Slurm environment looks damaged; run the agent under srun")
	}
	if cfg.Pilot == "" {
		cfg.Pilot = job.ID
	}
	if cfg.Name == "" && job.Node != "" {
		cfg.Name = job.Node
	}
	if cfg.DataDir == "" && job.Node != "" {
		// One directory per run of the job on this node: a node that ran
		// another pilot (or an earlier run of this requeued one) keeps that
		// pilot's Raft state, whose peers and ports are gone.
		cfg.DataDir = filepath.Join(os.TempDir(), fmt.Sprintf("pilot-%s-%s.%d", job.Node, job.ID, job.Restarts))
	}
	if len(job.Nodes) > 0 && job.Node == job.Nodes[0] {
		cfg.Bootstrap = true
	}
	if cfg.End.IsZero() {
		ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		end, err := batch.AllocationEnd(ectx, &batch.Slurm{}, job)
		if err != nil {
			cfg.Logger.Warn("allocation end unknown; the agent drains only on a signal", "pilot", job.ID, "err", err)
		} else {
			cfg.End = end
		}
	}
	return nil
}

// interfaceAddr is the first IPv4 address of a network interface.
func interfaceAddr(name string) (string, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return "", withHint(fmt.Errorf("bind interface %q: %w", name, err), "list this node's interfaces with 'ip addr'")
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String(), nil
		}
	}
	return "", withHint(fmt.Errorf("bind interface %q has no IPv4 address", name), "pick another with --bind-interface or give --bind")
}

// newLogger logs text lines to stderr at the given level.
func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// watchDrainFile asks for a drain once path exists. pilot.sh creates it when
// Slurm warns of the walltime: a signal passed on through srun would reach
// every process of the job step, the running tasks too, and kill them.
func watchDrainFile(ctx context.Context, path string, drain chan<- pilot.Drain) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, err := os.Stat(path); err == nil {
			select {
			case drain <- pilot.Drain{}:
			default:
			}
			return
		}
	}
}

// agentGCPercent is the agent's GOGC unless the environment sets one.
const agentGCPercent = 400
