package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// allEnd is scenario 8: every agent reaches its walltime at once (SIGTERM
// to all), then a new cluster resumes the campaign. No task recorded done
// before the end may run again.
var allEnd = Scenario{ID: 8, Name: "all-end-resume",
	Scaled: "3 agents x 2 cores, 200*scale tasks of 0.2 s; SIGTERM to every agent at once at a random point; then 3 new agents (a new cluster) finish the queue",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		n := 200 * env.Scale
		c, err := newRun(ctx, env, sleepQueue(n, 0.2), 3)
		if err != nil {
			return out, err
		}
		defer c.Stop(5 * time.Second)
		if err := c.WaitFinished(ctx, at(env, n, 0.2, 0.6), 120*time.Second); err != nil {
			return out, err
		}
		env.Logf("SIGTERM to every agent at %d results", c.Finished())
		first := c.Live()
		for _, a := range first {
			_ = a.Signal(syscall.SIGTERM)
		}
		for _, a := range first {
			if err := a.Wait(ctx, 45*time.Second); err != nil {
				out.Report.violate("agent %s at the end of its allocation: %v", a.Name, err)
			}
		}
		done, err := doneIDs(c.ResultsPath())
		if err != nil {
			return out, err
		}
		c.Bootstrap = true
		if err := c.StartN(3, 3); err != nil {
			return out, err
		}
		if out.Recover, err = c.Recovery(ctx, n, 60*time.Second); err != nil {
			return out, err
		}
		early := out.Report.Violations
		err = finish(ctx, c, n, 120*time.Second, &out)
		out.Report.Violations = append(early, out.Report.Violations...)
		reruns, rerr := readAttempts(c.AttemptLogs()[len(first):])
		if rerr != nil {
			return out, rerr
		}
		n2 := 0
		for _, a := range reruns {
			if done[a.Task] && len(a.Cores) > 0 {
				n2++
				out.Report.violate("task %s was done before the allocation ended and ran again on %s (attempt %d)", a.Task, a.Node, a.Attempt)
			}
		}
		out.Note = fmt.Sprintf("%d done before the end, %d of them re-run", len(done), n2)
		return out, err
	}}

// doneIDs returns the ids with a done record in a results file.
func doneIDs(path string) (map[string]bool, error) {
	res, err := records(path)
	out := map[string]bool{}
	for id, r := range res {
		if r.State == "done" {
			out[id] = true
		}
	}
	return out, err
}

// poisonTask is scenario 13: one task kills the agent that runs it (kill
// -9 $PPID), every time. It must fail as crashed-nodes after the crash
// limit (2) and not crash-loop the cluster; a new agent replaces each
// one killed.
var poisonTask = Scenario{ID: 13, Name: "poison-task",
	Scaled: "5 agents (3 voters) x 2 cores, 150*scale tasks of 0.2 s and one task that kill -9s its agent, at a random line; each dead agent replaced by a new one",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		n := 150 * env.Scale
		lines := strings.SplitAfter(string(sleepQueue(n, 0.2)), "\n")
		pos := env.Rand.IntN(n)
		lines = append(lines[:pos], append([]string{`{"id":"poison","cmd":["sh","-c","kill -9 $PPID"]}` + "\n"}, lines[pos:]...)...)
		c, err := newRun(ctx, env, []byte(strings.Join(lines, "")), 5)
		if err != nil {
			return out, err
		}
		defer c.Stop(5 * time.Second)
		deaths := 0
		err = c.Eventually(ctx, 120*time.Second, fmt.Sprintf("%d results", n+1), func() bool {
			for len(c.Live()) < 5 && deaths < 5 {
				deaths++
				env.Logf("an agent died (%d); starting another", deaths)
				if _, err := c.Start(3); err != nil {
					return false
				}
			}
			return c.Finished() >= n+1
		})
		if err != nil {
			return out, err
		}
		err = finish(ctx, c, n+1, 60*time.Second, &out)
		out.Note = fmt.Sprintf("%d agents killed by the poison task", deaths)
		if deaths > 2 {
			out.Report.violate("the poison task killed %d agents; the crash limit is 2", deaths)
		}
		res, rerr := records(c.ResultsPath())
		if rerr != nil {
			return out, rerr
		}
		if r := res["poison"]; r.State != "failed" || !strings.HasPrefix(r.Error, "crashed-nodes:") {
			out.Report.violate("the poison task ended %s (%s), want failed: crashed-nodes", r.State, r.Error)
		}
		return out, err
	}}

// hungTree is scenario 14: a task whose children and grandchildren hang
// past its timeout. Its whole tree must be killed: no process of it may
// outlive its record.
var hungTree = Scenario{ID: 14, Name: "hung-tree", CI: true,
	Scaled: "3 agents x 2 cores, 60*scale tasks of 0.1 s and 3 tasks (timeout_s 1, max_attempts 1) that leave a child and a grandchild sleeping; after their records no process of theirs may remain",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		n := 60 * env.Scale
		mark := fmt.Sprintf("%d.%03d", 300+env.Rand.IntN(600), env.Rand.IntN(1000))
		var b strings.Builder
		b.Write(sleepQueue(n, 0.1))
		for i := range 3 {
			fmt.Fprintf(&b, `{"id":"hung%d","cmd":["sh","-c","sleep %s & (sleep %s & wait) & wait"],"timeout_s":1,"max_attempts":1}`+"\n", i, mark, mark)
		}
		c, err := newRun(ctx, env, []byte(b.String()), 3)
		if err != nil {
			return out, err
		}
		defer c.Stop(5 * time.Second)
		if err := c.WaitFinished(ctx, n+3, 120*time.Second); err != nil {
			return out, err
		}
		// The tree is killed before its record is written: none may remain.
		orphans := processesWith("sleep\x00" + mark)
		for _, pid := range orphans {
			out.Report.violate("process %d (sleep %s) of a hung task outlived the task's record", pid, mark)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		err = finish(ctx, c, n+3, 60*time.Second, &out)
		res, rerr := records(c.ResultsPath())
		if rerr != nil {
			return out, rerr
		}
		for i := range 3 {
			if r := res[fmt.Sprintf("hung%d", i)]; r.State != "failed" || !strings.Contains(strings.ToLower(r.Error), "timeout") {
				out.Report.violate("hung task hung%d ended %s (%q), want failed with a timeout", i, r.State, r.Error)
			}
		}
		out.Note = fmt.Sprintf("%d orphan processes", len(orphans))
		return out, err
	}}

// processesWith returns the pids whose command line contains s (NUL
// separated, as in /proc/PID/cmdline).
func processesWith(s string) []int {
	var out []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !strings.Contains(string(b), s) {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(d), "%d", &pid); err == nil {
			out = append(out, pid)
		}
	}
	return out
}
