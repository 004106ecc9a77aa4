package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/pilot-hpc/pilot/coordinator"
	"github.com/pilot-hpc/pilot/coordinator/coordtest"
	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/task"
)

// driver streams task lifecycles through whichever node leads, like a
// leader loop would: each proposal completes the running tasks, starts the
// assigned ones, assigns queued ones to free cores and ingests more. A
// proposal that fails (no leader, a killed leader, an unknown outcome) is
// planned again from the new leader's ledger; fencing makes repeats safe.
type driver struct {
	c      *coordtest.Cluster
	total  int
	agents int
	cores  int

	mu        sync.Mutex
	ingested  int
	confirmed map[string]int // task → attempt of the committed Complete that made it done
	doneN     int
	failovers int
	marks     []int         // done counts at which to signal reached
	reached   chan struct{} // receives once per mark
}

const batchItems = 200

func (d *driver) run(ctx context.Context) error {
	d.confirmed = map[string]int{}
	var lastLeader *coordinator.Node
	for {
		li, err := d.c.Leader(ctx)
		if err != nil {
			return err
		}
		n := d.c.Node(li)
		if n == nil {
			continue
		}
		if n != lastLeader {
			// A new leader first applies all it has committed.
			if err := n.Barrier(ctx); err != nil {
				if retryable(err) {
					continue
				}
				return err
			}
			lastLeader = n
		}
		v := n.Ledger().View()
		if v.Counts().Done == d.total {
			return nil
		}
		cmd, p := d.plan(v)
		out, err := n.Propose(ctx, cmd)
		if err != nil {
			if retryable(err) {
				d.mu.Lock()
				d.failovers++
				d.mu.Unlock()
				continue
			}
			return err
		}
		if err := d.record(out, p); err != nil {
			return err
		}
	}
}

func retryable(err error) bool {
	return errors.Is(err, coordinator.ErrNotLeader) || errors.Is(err, coordinator.ErrMaybeCommitted) || errors.Is(err, raft.ErrRaftShutdown)
}

// planned is what a proposal carries that record needs.
type planned struct {
	ingest   int
	attempts map[string]int // completed task → attempt
}

func (d *driver) plan(v ledger.View) (ledger.Batch, planned) {
	var b ledger.Batch
	p := planned{attempts: map[string]int{}}
	if v.Counts().Nodes < d.agents {
		for a := 0; a < d.agents; a++ {
			b.Cmds = append(b.Cmds, ledger.AgentJoined{At: 1, Node: ledger.NodeInfo{ID: fmt.Sprintf("agent%d", a), Cores: d.cores, Pilot: "p1", Addr: "127.0.0.1:1"}})
		}
		return b, p
	}
	free := map[string]int{}
	for _, n := range v.Nodes() {
		free[n.ID] = n.FreeCores()
	}
	at := int64(v.Applied()) // any deterministic time will do here
	comp := ledger.Complete{At: at}
	for _, t := range v.InState(ledger.Running) {
		if len(comp.Items) == batchItems {
			break
		}
		comp.Items = append(comp.Items, ledger.Completion{Task: t.Spec.ID, Attempt: t.Attempt, Result: task.Result{RuntimeS: 1, Value: []byte(`"` + t.Spec.ID + `"`)}})
		free[t.Node] += t.Spec.Cores
		p.attempts[t.Spec.ID] = t.Attempt
	}
	start := ledger.Started{At: at}
	for _, t := range v.InState(ledger.Assigned) {
		if len(start.Items) == batchItems {
			break
		}
		start.Items = append(start.Items, ledger.AttemptRef{Task: t.Spec.ID, Attempt: t.Attempt})
	}
	asg := ledger.Assign{At: at}
	v.WalkQueued(func(t *ledger.Task) bool {
		for a := 0; a < d.agents; a++ {
			id := fmt.Sprintf("agent%d", (a+len(asg.Items))%d.agents)
			if free[id] >= t.Spec.Cores {
				free[id] -= t.Spec.Cores
				asg.Items = append(asg.Items, ledger.Assignment{Task: t.Spec.ID, Node: id, Attempt: t.Attempt + 1})
				break
			}
		}
		return len(asg.Items) == batchItems
	})
	ing := ledger.Ingest{At: at}
	d.mu.Lock()
	for v.Counts().Queued+len(ing.Tasks) < 2*batchItems && d.ingested+len(ing.Tasks) < d.total {
		id := fmt.Sprintf("task-%05d", d.ingested+len(ing.Tasks))
		ing.Tasks = append(ing.Tasks, ledger.Leased{Spec: task.Spec{ID: id, Cmd: []string{"shift", id}, Input: "C1=CC=CC=C1"}, Lease: "lease-" + id})
	}
	d.mu.Unlock()
	p.ingest = len(ing.Tasks)
	b.Cmds = append(b.Cmds, comp, start, asg, ing)
	return b, p
}

// record checks a committed outcome and remembers what it made final.
func (d *driver) record(out *ledger.Outcome, p planned) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ingested += p.ingest
	for _, r := range out.Refused {
		// A repeat after an unknown outcome is refused as a duplicate
		// ingest or a stale attempt; anything else is a bug.
		if r.Code != ledger.CodeDuplicateTask && r.Code != ledger.CodeStaleAttempt && r.Code != ledger.CodeIllegal {
			return fmt.Errorf("entry %d: unexpected refusal: %v", out.Index, r)
		}
	}
	for _, id := range out.Final {
		if _, dup := d.confirmed[id]; dup {
			return fmt.Errorf("entry %d: task %s became final twice", out.Index, id)
		}
		a, ok := p.attempts[id]
		if !ok {
			return fmt.Errorf("entry %d: task %s became final without a Complete", out.Index, id)
		}
		d.confirmed[id] = a
		d.doneN++
	}
	for len(d.marks) > 0 && d.doneN >= d.marks[0] {
		d.marks = d.marks[1:]
		d.reached <- struct{}{}
	}
	return nil
}

// streamWithFailovers runs total lifecycles through a cluster of n voters,
// kills the leader twice while proposals are in flight and restarts it
// from its data directory, then checks that every replica is identical,
// every committed result is there, and each task has exactly one.
func streamWithFailovers(t *testing.T, voters, total int) {
	// Generous: a loaded CI machine under -race takes ~30 s; the bound
	// only turns a hang into a failure.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := coordtest.New(t, voters)
	d := &driver{c: c, total: total, agents: 4, cores: 32, marks: []int{total / 3, 2 * total / 3}, reached: make(chan struct{}, 2)}
	errc := make(chan error, 1)
	go func() { errc <- d.run(ctx) }()
	for k := 0; k < 2; k++ {
		select {
		case <-d.reached:
		case err := <-errc:
			t.Fatalf("the stream ended before failover %d: %v", k+1, err)
		}
		li, err := c.Leader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c.Kill(li)
		nl, err := c.Leader(ctx)
		if err != nil {
			t.Fatalf("no new leader after killing %d: %v", li, err)
		}
		c.Restart(li)
		t.Logf("failover %d: killed leader v%d, v%d leads, v%d restarted from its data dir", k+1, li, nl, li)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureSame(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < c.Len(); i++ {
		v := c.Node(i).Ledger().View()
		cnt := v.Counts()
		if cnt.Done != total || cnt.Tasks() != total {
			t.Fatalf("node %d: counts %+v, want %d done and nothing else", i, cnt, total)
		}
		for id, attempt := range d.confirmed {
			tk, ok := v.Task(id)
			if !ok || tk.State != ledger.Done || tk.Result.Attempts != attempt || string(tk.Result.Value) != `"`+id+`"` {
				t.Fatalf("node %d: the committed result of %s (attempt %d) is lost: %+v", i, id, attempt, tk)
			}
		}
	}
	if len(d.confirmed) > total {
		t.Fatalf("%d results confirmed for %d tasks", len(d.confirmed), total)
	}
	t.Logf("%d lifecycles, %d entries, %d proposals retried after failovers, %d results confirmed, last snapshot at %s",
		total, c.Node(0).Ledger().Applied(), d.failovers, len(d.confirmed), c.Node(0).Raft().Stats()["last_snapshot_index"])
}

func TestClusterThreeVotersSurviveLeaderKills(t *testing.T) {
	streamWithFailovers(t, 3, 10000)
}

func TestClusterFiveVotersSurviveLeaderKills(t *testing.T) {
	streamWithFailovers(t, 5, 10000)
}
