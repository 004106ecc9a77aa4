package coordinator_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/coordinator/coordtest"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/task"
)

// lifecycles is a steady stream of task lifecycles, one log entry at a
// time: entry e ingests group e, assigns group e-1, starts group e-2,
// completes group e-3 and acks group e-4 (results written upstream), so
// each entry carries 5 × group transitions and the ledger stays small.
// Lanes have their own tasks and agents, so several lanes can be proposed
// concurrently and still apply cleanly in any interleaving.
type lifecycles struct {
	lane   string
	group  int // tasks per group
	agents int
	cores  int
	input  string
}

func newLifecycles(lane string, group int, input int) lifecycles {
	// Two groups hold cores at once (assigned and running); give them room.
	return lifecycles{lane: lane, group: group, agents: 16, cores: (2*group)/16 + 2, input: strings.Repeat("x", input)}
}

func (l lifecycles) id(g, j int) string { return fmt.Sprintf("%s-%07d-%04d", l.lane, g, j) }

func (l lifecycles) agent(j int) string { return fmt.Sprintf("%s-agent%02d", l.lane, j%l.agents) }

// entry returns log entry e of the stream.
func (l lifecycles) entry(e int) ledger.Batch {
	at := int64(e) * int64(time.Millisecond)
	var b ledger.Batch
	if e == 0 {
		for a := 0; a < l.agents; a++ {
			b.Cmds = append(b.Cmds, ledger.AgentJoined{At: at, Node: ledger.NodeInfo{ID: l.agent(a), Cores: l.cores, Pilot: l.lane, Addr: "127.0.0.1:1"}})
		}
	}
	if g := e - 4; g >= 0 {
		c := ledger.Acked{At: at}
		for j := 0; j < l.group; j++ {
			c.Tasks = append(c.Tasks, l.id(g, j))
		}
		b.Cmds = append(b.Cmds, c)
	}
	if g := e - 3; g >= 0 {
		c := ledger.Complete{At: at}
		for j := 0; j < l.group; j++ {
			c.Items = append(c.Items, ledger.Completion{Task: l.id(g, j), Attempt: 1, Result: task.Result{RuntimeS: 600, CoreS: 600, Value: []byte(`{"shift":12.5}`)}})
		}
		b.Cmds = append(b.Cmds, c)
	}
	if g := e - 2; g >= 0 {
		c := ledger.Started{At: at}
		for j := 0; j < l.group; j++ {
			c.Items = append(c.Items, ledger.AttemptRef{Task: l.id(g, j), Attempt: 1})
		}
		b.Cmds = append(b.Cmds, c)
	}
	if g := e - 1; g >= 0 {
		c := ledger.Assign{At: at}
		for j := 0; j < l.group; j++ {
			c.Items = append(c.Items, ledger.Assignment{Task: l.id(g, j), Node: l.agent(j), Attempt: 1})
		}
		b.Cmds = append(b.Cmds, c)
	}
	c := ledger.Ingest{At: at}
	for j := 0; j < l.group; j++ {
		id := l.id(e, j)
		c.Tasks = append(c.Tasks, ledger.Leased{Spec: task.Spec{ID: id, Cmd: []string{"nmr-shift", "--mol", id}, Input: l.input, Cores: 1}, Lease: "lease-" + id})
	}
	b.Cmds = append(b.Cmds, c)
	return b
}

// BenchmarkLedgerApply measures the state machine alone: decoding and
// applying entries of 5 × 256 transitions, as a follower's FSM does.
func BenchmarkLedgerApply(b *testing.B) {
	l := newLifecycles("a", 256, 100)
	entries := make([][]byte, b.N)
	for e := range entries {
		data, err := ledger.Encode(l.entry(e))
		if err != nil {
			b.Fatal(err)
		}
		entries[e] = data
	}
	fsm := coordinator.NewFSM(nil)
	transitions := 0
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for e, data := range entries {
		out := fsm.Apply(&raft.Log{Index: uint64(e + 1), Type: raft.LogCommand, Data: data}).(*ledger.Outcome)
		if len(out.Refused) > 0 {
			b.Fatalf("entry %d refused: %v", e, out.Err())
		}
		transitions += out.Applied
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	if err := fsm.Ledger().CheckInvariants(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(transitions)/b.Elapsed().Seconds(), "transitions/s")
	b.ReportMetric(float64(transitions)/5/b.Elapsed().Seconds(), "lifecycles/s")
	b.ReportMetric(cpu.Seconds()*1e6/float64(transitions), "cpu-µs/transition")
}

// BenchmarkLedgerCommit measures the replicated ledger: 3 voters over TCP
// on 127.0.0.1, each with its raft-wal log on disk (fsync per batch),
// entries of 5 × 256 transitions proposed by 4 concurrent lanes (one op:
// an entry in each) so raft always has the next batch ready. A transition
// counts once committed and applied on the leader; the followers apply it
// too, on the same 2 cores.
func BenchmarkLedgerCommit(b *testing.B) {
	const lanes, group = 4, 256
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := coordtest.New(b, 3, func(_ int, cfg *coordinator.Config) {
		cfg.Timeouts = coordinator.DefaultTimeouts // no elections under load
		cfg.SnapshotInterval, cfg.SnapshotThreshold, cfg.TrailingLogs = 0, 0, 0
	})
	li, err := c.Leader(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Node(li).Barrier(ctx); err != nil {
		b.Fatal(err)
	}
	// One op is one entry in each lane (5 × 256 × 4 transitions); the
	// entries are built before the timer starts.
	perLane := b.N
	streams := make([][]ledger.Batch, lanes)
	for k := range streams {
		l := newLifecycles(fmt.Sprintf("l%d", k), group, 100)
		for e := 0; e < perLane; e++ {
			streams[k] = append(streams[k], l.entry(e))
		}
	}
	var mu sync.Mutex
	transitions, retries := 0, 0
	errs := make(chan error, lanes)
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for k := range streams {
		wg.Add(1)
		go func(entries []ledger.Batch) {
			defer wg.Done()
			for e, cmd := range entries {
				out, retried, err := proposeRetrying(ctx, c, cmd)
				if err != nil {
					errs <- err
					return
				}
				// A retried entry may have committed the first time;
				// its repeat is then refused, harmlessly.
				if len(out.Refused) > 0 && !retried {
					errs <- fmt.Errorf("entry %d refused: %w", e, out.Err())
					return
				}
				mu.Lock()
				transitions += out.Applied
				if retried {
					retries++
				}
				mu.Unlock()
			}
		}(streams[k])
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuTime() - cpu0
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if err := c.EnsureSame(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(transitions)/b.Elapsed().Seconds(), "transitions/s")
	b.ReportMetric(float64(transitions)/5/b.Elapsed().Seconds(), "lifecycles/s")
	// The CPU the whole process (3 voters) spent per transition: what the
	// rate would be on idle cores, when other work shares the machine.
	b.ReportMetric(cpu.Seconds()*1e6/float64(transitions), "cpu-µs/transition")
	b.ReportMetric(float64(retries), "retried-entries")
}

// proposeRetrying proposes to whichever node leads, again after a
// leadership change (a loaded machine can starve heartbeats).
func proposeRetrying(ctx context.Context, c *coordtest.Cluster, cmd ledger.Command) (*ledger.Outcome, bool, error) {
	retried := false
	for {
		li, err := c.Leader(ctx)
		if err != nil {
			return nil, retried, err
		}
		out, err := c.Node(li).Propose(ctx, cmd)
		if err == nil || !retryable(err) {
			return out, retried, err
		}
		retried = true
	}
}

// BenchmarkLedgerMemory holds 100,000 queued tasks of 1 kB input each in
// one ledger and reports the heap it takes and the process's RSS
// (promise 6: the budget is 300 MB).
func BenchmarkLedgerMemory(b *testing.B) {
	const tasks, perEntry = 100_000, 1000
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		l := ledger.New()
		input := strings.Repeat("C", 1024)
		for e := 0; e < tasks/perEntry; e++ {
			ing := ledger.Ingest{At: int64(e)}
			for j := 0; j < perEntry; j++ {
				id := fmt.Sprintf("mol-%06d", e*perEntry+j)
				// Each spec gets its own copy of the input, as decoding does.
				ing.Tasks = append(ing.Tasks, ledger.Leased{Spec: task.Spec{ID: id, Cmd: []string{"nmr-shift", id}, Input: strings.Clone(input), Cores: 4, MemMB: 8000, EstS: 1800}, Lease: "lease-" + id})
			}
			data, err := ledger.Encode(ing)
			if err != nil {
				b.Fatal(err)
			}
			if out := l.Apply(uint64(e+1), data); len(out.Refused) > 0 {
				b.Fatal(out.Err())
			}
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if n := l.Counts().Queued; n != tasks {
			b.Fatalf("%d tasks queued, want %d", n, tasks)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MB")
		b.ReportMetric(float64(rssBytes())/(1<<20), "rss-MB")
		runtime.KeepAlive(l)
	}
}
