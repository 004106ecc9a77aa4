package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// walltimeQueue is the queue of scenario 10: tasks whose estimates are
// right (each sleeps its est_s), short, medium and long, in a seeded
// order, and nofit tasks whose estimate no pilot can hold.
func walltimeQueue(env *Env, short, medium, long, nofit int) ([]byte, map[string]float64) {
	type kind struct {
		n     int
		est   float64
		sleep float64
	}
	kinds := []kind{{short, 0.5, 0.5}, {medium, 2, 2}, {long, 6, 6}, {nofit, 3600, 0.1}}
	est := map[string]float64{}
	var lines []string
	for k, kd := range kinds {
		for i := range kd.n {
			id := fmt.Sprintf("w%d-%03d", k, i)
			est[id] = kd.est
			lines = append(lines, fmt.Sprintf(`{"id":%q,"cmd":["sleep","%g"],"input":%q,"est_s":%g,"timeout_s":%g}`, id, kd.sleep, id, kd.est, 2*kd.est+10))
		}
	}
	env.Rand.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	return []byte(strings.Join(lines, "\n") + "\n"), est
}

// walltimePlacement is scenario 10: pilots that end soon beside pilots
// that last, tasks with estimates. No attempt may start on a pilot that
// cannot finish it before its end, no attempt of a task with a right
// estimate may be killed by its pilot's end (wasted work), the tasks that
// fit run, and the ones that fit no pilot stay visibly pending, waiting
// for the walltime reason.
var walltimePlacement = Scenario{ID: 10, Name: "walltime-placement", CI: true,
	Scaled: "3 agents x 2 cores whose pilots end in 10 min and 2 whose pilots end 15-30 s after their start (drain margin 6 s, walltime margin 2 s, slack x1.5); 40*scale tasks of 0.5 s, 16 of 2 s and 12 of 6 s with right estimates, 3 with est_s 3600 that fit no pilot",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		data, est := walltimeQueue(env, 40*env.Scale, 16, 12, 3)
		fit := len(est) - 3
		c, err := NewCluster(env.Bin, env.Dir, data)
		if err != nil {
			return out, err
		}
		defer c.Stop(5 * time.Second)
		ends := map[string]time.Time{}
		start := func(endIn time.Duration) error {
			c.Extra = []string{"--end-in", endIn.String(), "--drain-margin", "6s", "--walltime-margin", "2s"}
			a, err := c.Start(3)
			if err != nil {
				return err
			}
			// The agent takes its end from its own clock, later than now:
			// this end is a little early, so the check errs strict.
			ends[a.Name] = time.Now().Add(endIn)
			return nil
		}
		for range 3 {
			if err := start(10 * time.Minute); err != nil {
				return out, err
			}
		}
		if _, err := c.Leader(ctx, 30*time.Second); err != nil {
			return out, err
		}
		if err := c.Eventually(ctx, 30*time.Second, "three voters", func() bool { return c.Promotions() >= 2 }); err != nil {
			return out, err
		}
		var short []string
		for range 2 {
			endIn := time.Duration(15000+env.Rand.IntN(15000)) * time.Millisecond
			if err := start(endIn); err != nil {
				return out, err
			}
			short = append(short, fmt.Sprintf("%s %s", c.Agents[len(c.Agents)-1].Name, endIn.Round(100*time.Millisecond)))
		}
		env.Logf("short pilots: %s", strings.Join(short, ", "))
		if err := c.WaitFinished(ctx, fit, 120*time.Second); err != nil {
			return out, err
		}
		waiting, err := waitingReasons(ctx, c)
		if err != nil {
			return out, err
		}
		err = finishPending(ctx, c, fit, 60*time.Second, &out, true)
		if err != nil {
			return out, err
		}
		if out.Report.Pending != 3 {
			out.Report.violate("walltime: %d tasks pending at the end, want the 3 that fit no pilot", out.Report.Pending)
		}
		if waiting["walltime"] < 3 {
			out.Report.violate("walltime: pilot status shows %v waiting, want the 3 tasks that fit no pilot waiting for \"walltime\"", waiting)
		}
		bad, wasted, minLeft, err := checkWalltime(c, est, ends)
		if err != nil {
			return out, err
		}
		for _, v := range bad {
			out.Report.violate("%s", v)
		}
		onShort := 0
		for _, a := range c.Agents[3:] {
			onShort += a.attempts()
		}
		out.Note = fmt.Sprintf("%d attempts on the short pilots, %d wasted, least time left after a task's estimate %s", onShort, wasted, minLeft.Round(100*time.Millisecond))
		return out, nil
	}}

// checkWalltime checks every attempt of the run against its agent's end:
// it must have started in time to finish its estimate before the end,
// and every attempt of these tasks (their estimates are right) must have
// ended done. It returns the violations, the attempts that did not end
// done (wasted work) and the least time any attempt left before its
// pilot's end.
func checkWalltime(c *Cluster, est map[string]float64, ends map[string]time.Time) ([]string, int, time.Duration, error) {
	var bad []string
	wasted := 0
	minLeft := time.Duration(1<<63 - 1)
	for _, a := range c.Agents {
		path := filepath.Join(a.Data, "attempts.jsonl")
		err := eachLine(path, func(no int, line []byte) error {
			var at attemptLine
			if err := json.Unmarshal(line, &at); err != nil {
				return fmt.Errorf("%s:%d: %w", path, no, err)
			}
			e, ok := est[at.Task]
			if !ok {
				return fmt.Errorf("%s:%d: task %s is not in the queue", path, no, at.Task)
			}
			left := ends[a.Name].Sub(at.Start.Add(time.Duration(e * float64(time.Second))))
			minLeft = min(minLeft, left)
			if left < 0 {
				bad = append(bad, fmt.Sprintf("walltime: %s:%d: task %s (est_s %g) started at %s on %s, whose pilot ends at %s: %s too late",
					path, no, at.Task, e, at.Start.Format("15:04:05.000"), a.Name, ends[a.Name].Format("15:04:05.000"), -left))
			}
			if at.Outcome != "done" {
				wasted++
				bad = append(bad, fmt.Sprintf("walltime: %s:%d: task %s (est_s %g, right) ended %q on %s: work wasted", path, no, at.Task, e, at.Outcome, a.Name))
			}
			return nil
		})
		if err != nil {
			return nil, 0, 0, err
		}
	}
	return bad, wasted, minLeft, nil
}

// attempts counts the lines of the agent's attempt log.
func (a *Agent) attempts() int {
	b, _ := os.ReadFile(filepath.Join(a.Data, "attempts.jsonl"))
	return strings.Count(string(b), "\n")
}

// waitingReasons runs 'pilot status --json' and returns the queued tasks
// the leader's last plan could not place, by reason.
func waitingReasons(ctx context.Context, c *Cluster) (map[string]int, error) {
	cmd := exec.CommandContext(ctx, c.Bin, "status", "--queue", c.Queue, "--state", c.State, "--json", "--no-slurm")
	cmd.Env = append(os.Environ(), c.Env...)
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pilot status: %w", err)
	}
	var st struct {
		Waiting map[string]int `json:"waiting"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("pilot status --json: %w:\n%s", err, b)
	}
	return st.Waiting, nil
}
