package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// lostLine is what the leader's steward logs when it takes a node for
// dead and requeues its tasks.
const lostLine = `msg="a node is no live member: its tasks are requeued"`

// lateCompletion is scenario 15: an attempt is declared lost while it
// still runs and its result comes right after. Each round SIGSTOPs the
// workers that are not Raft voters while they run tasks; the tasks'
// processes go on and exit, but their agents cannot report. When the
// leader logs a worker lost and requeues its tasks elsewhere, the worker
// gets SIGCONT 0-300 ms later (a seeded delay), so its late results race
// the requeue and the new attempts. Exactly one result per task may be
// recorded, whichever attempt wins.
var lateCompletion = Scenario{ID: 15, Name: "late-completion", CI: true,
	Scaled: "5 agents (3 voters) x 6 cores (on 2 CPUs: the tasks sleep), tasks of 1 s; rounds of SIGSTOP of the 2 non-voters while they run tasks, each SIGCONTed 0-300 ms after the leader requeues its tasks; as many rounds as fit in 60 s (15 s under go test), not 1000 lease expiries",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		budget := 60 * time.Second
		if testing.Testing() {
			budget = 15 * time.Second
		}
		// Each agent offers 6 cores on CPUs 0 and 1 (the tasks sleep), so
		// each SIGSTOP catches up to 6 running attempts per victim.
		n := int(budget.Seconds()) * 25 * env.Scale
		c, err := NewCluster(env.Bin, env.Dir, sleepQueue(n, 1))
		if err != nil {
			return out, err
		}
		c.Extra = []string{"--cores", "6"}
		defer c.Stop(5 * time.Second)
		if err := c.StartN(5, 3); err != nil {
			return out, err
		}
		if _, err := c.Leader(ctx, 30*time.Second); err != nil {
			return out, err
		}
		if err := c.Eventually(ctx, 30*time.Second, "three voters", func() bool { return c.Promotions() >= 2 }); err != nil {
			return out, err
		}
		var victims []*Agent
		voters := c.LiveVoters(nil)
		for _, a := range c.Live() {
			if !slices.Contains(voters, a) {
				victims = append(victims, a)
			}
		}
		if len(victims) == 0 {
			return out, fmt.Errorf("no agent is a non-voter; agents' logs:\n%s", c.LogTails(8))
		}
		start, rounds := time.Now(), 0
		for time.Since(start) < budget && c.Finished() < n-n/5 {
			if err := c.Eventually(ctx, 30*time.Second, "every victim running a task", func() bool {
				return allRunning(ctx, c, victims)
			}); err != nil {
				return out, err
			}
			before := map[*Agent]int{}
			for _, v := range victims {
				before[v] = c.count(lostLine, "member="+v.Name+" ")
				if err := v.Signal(syscall.SIGSTOP); err != nil {
					return out, err
				}
			}
			stopped := time.Now()
			for _, v := range victims {
				err := c.Eventually(ctx, 60*time.Second, v.Name+" taken for lost", func() bool {
					return c.count(lostLine, "member="+v.Name+" ") > before[v]
				})
				if err != nil {
					for _, v := range victims {
						_ = v.Signal(syscall.SIGCONT)
					}
					return out, err
				}
				time.Sleep(time.Duration(env.Rand.IntN(300)) * time.Millisecond) // the race's offset is the fault
				if err := v.Signal(syscall.SIGCONT); err != nil {
					return out, err
				}
			}
			rounds++
			out.Recover = max(out.Recover, time.Since(stopped))
		}
		env.Logf("%d rounds of SIGSTOP in %s", rounds, time.Since(start).Round(time.Second))
		if err := c.WaitFinished(ctx, n, 120*time.Second); err != nil {
			return out, err
		}
		// Late results of tasks already final, and of requeued attempts
		// whose task was not assigned again yet (recorded): the ledger
		// counts both.
		var late, recorded uint64
		if lead, err := c.Leader(ctx, 30*time.Second); err == nil {
			late = ledgerMetric(ctx, lead, "pilot_ledger_duplicates")
			recorded = ledgerMetric(ctx, lead, "pilot_ledger_late_results")
		}
		if err := finish(ctx, c, n, 120*time.Second, &out); err != nil {
			return out, err
		}
		raced, both, err := races(c)
		if err != nil {
			return out, err
		}
		out.Note = joinNotes(fmt.Sprintf("%d rounds, %d late results of requeued attempts recorded (their tasks not run again), %d tasks re-run after a loss, %d of them finished by both attempts; the leaders refused %d reports of stale attempts, the ledger counted %d late results as duplicates",
			rounds, recorded, raced, both, refusedReports(c), late), out.Note)
		if rounds == 0 || raced+int(recorded) == 0 {
			out.Report.violate("late completion: %d rounds made %d races: the scenario tested nothing", rounds, raced+int(recorded))
		}
		return out, nil
	}}

// allRunning says whether the ledger shows every agent of as running a
// task ('pilot status --json').
func allRunning(ctx context.Context, c *Cluster, as []*Agent) bool {
	cmd := exec.CommandContext(ctx, c.Bin, "status", "--queue", c.Queue, "--state", c.State, "--json", "--no-slurm")
	cmd.Env = append(os.Environ(), c.Env...)
	b, err := cmd.Output()
	if err != nil {
		return false
	}
	var st struct {
		Nodes []struct {
			ID      string `json:"id"`
			Running int    `json:"running"`
		} `json:"nodes"`
	}
	if json.Unmarshal(b, &st) != nil {
		return false
	}
	running := map[string]bool{}
	for _, n := range st.Nodes {
		running[n.ID] = n.Running > 0
	}
	for _, a := range as {
		if !running[a.Name] {
			return false
		}
	}
	return true
}

// races counts, in the attempt logs, the tasks executed more than once and
// those of them that more than one execution finished done.
func races(c *Cluster) (raced, both int, err error) {
	atts, err := readAttempts(c.AttemptLogs())
	if err != nil {
		return 0, 0, err
	}
	runs, done := map[string]int{}, map[string]int{}
	for _, a := range atts {
		runs[a.Task]++
		if a.Outcome == "done" {
			done[a.Task]++
		}
	}
	for id, r := range runs {
		if r > 1 {
			raced++
		}
		if done[id] > 1 {
			both++
		}
	}
	return raced, both, nil
}

var refusedRe = regexp.MustCompile(`msg="reports refused by the ledger \(stale or unknown attempts\)".*\brefused=(\d+)`)

// refusedReports sums the reports the leaders' ledgers refused (stale or
// unknown attempts: the losers of a race) over every agent's log.
func refusedReports(c *Cluster) int {
	n := 0
	for _, a := range c.Agents {
		b, _ := os.ReadFile(a.Log)
		for _, m := range refusedRe.FindAllSubmatch(b, -1) {
			v, _ := strconv.Atoi(string(m[1]))
			n += v
		}
	}
	return n
}

// joinNotes joins a scenario's note with the one finish made (tasks failed
// as crashed-nodes), if any.
func joinNotes(note, finished string) string {
	if finished == "" {
		return note
	}
	return note + "; " + finished
}
