package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// flushUnderLoad is scenario 27: 'pilot flush' while the cluster works
// the queue. Every task then has a record or sits in the flush archive,
// and no attempt of a flushed task starts after flush returns.
var flushUnderLoad = Scenario{ID: 27, Name: "flush-under-load", CI: true,
	Scaled: "4 agents (3 voters) x 2 cores, 400*scale tasks of 0.2 s; 'pilot flush --yes' at a random point in the first half (not 90k tasks: the atomicity is the same)",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		n := 400 * env.Scale
		c, err := newRun(ctx, env, sleepQueue(n, 0.2), 4)
		if err != nil {
			return out, err
		}
		defer c.Stop(5 * time.Second)
		if err := c.WaitFinished(ctx, at(env, n, 0.1, 0.5), 120*time.Second); err != nil {
			return out, err
		}
		env.Logf("flush at %d results", c.Finished())
		start := time.Now()
		cmd := exec.CommandContext(ctx, c.Bin, "flush", "--queue", c.Queue, "--state", c.State, "--yes")
		cmd.Env = append(os.Environ(), c.Env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return out, fmt.Errorf("pilot flush: %w: %s", err, b)
		}
		flushed := time.Now()
		out.Recover = flushed.Sub(start)
		st, err := c.Status(ctx)
		if err != nil {
			return out, err
		}
		if st["pending"] != 0 {
			out.Report.violate("INV-6: right after flush, pilot status says %d pending", st["pending"])
		}
		early := out.Report.Violations
		err = finish(ctx, c, 0, time.Second, &out)
		out.Report.Violations = append(early, out.Report.Violations...)
		atts, aerr := readAttempts(c.AttemptLogs())
		if aerr != nil {
			return out, aerr
		}
		res, rerr := records(c.ResultsPath())
		if rerr != nil {
			return out, rerr
		}
		late := 0
		for _, a := range atts {
			if _, recorded := res[a.Task]; !recorded && len(a.Cores) > 0 && a.Start.After(flushed) {
				late++
				out.Report.violate("flushed task %s started on %s at %s, after flush returned at %s", a.Task, a.Node, a.Start.Format(time.StampMicro), flushed.Format(time.StampMicro))
			}
		}
		out.Note = fmt.Sprintf("flush took %s; %d flushed; %d flushed attempts started after it", out.Recover.Round(time.Millisecond), out.Report.Flushed, late)
		return out, err
	}}

// badLines are malformed records of scenario 24; the key is the reason.
var badLines = map[string]string{
	"invalid JSON":       `{"id":"badjson","cmd":["true"]`,
	"missing cmd":        `{"id":"nocmd"}`,
	"10 MB argument":     `{"id":"huge","cmd":["echo","` + strings.Repeat("A", 10<<20) + `"]}`,
	"NUL byte":           `{"id":"nul","cmd":["echo","a\u0000b"]}`,
	"negative estimate":  `{"id":"negest","cmd":["true"],"est_s":-1}`,
	"negative timeout":   `{"id":"negtimeout","cmd":["true"],"timeout_s":-5}`,
	"cores > node cores": `{"id":"toowide","cmd":["true"],"cores":64}`,
	"duplicate id":       `{"id":"t0001","cmd":["false"]}`,
	"unknown field":      `{"id":"typo","cmd":["true"],"coers":2}`,
	"escaping id":        `{"id":"../../etc","cmd":["true"]}`,
	"not an object":      `[1,2,3]`,
	"binary garbage":     "\x00\x01\xff\xfe garbage",
}

// goodOdd are valid records of unusual shape that must run.
var goodOdd = []string{
	`{"id":"unicode","cmd":["echo","héllo ☃ \u202e עברית"],"input":"ünïcødé 🚀"}`,
	`{"id":"zerotimeout","cmd":["true"],"timeout_s":0,"est_s":0}`,
}

// malformed is scenario 24: bad records shuffled among good ones. Each bad
// one gets a failed record with its reason, no agent crashes, every good
// one runs.
var malformed = Scenario{ID: 24, Name: "malformed-records", CI: true,
	Scaled: "3 agents x 2 cores, 100*scale tasks of 0.05 s, 2 odd valid ones and 12 bad ones (invalid JSON, missing cmd, a 10 MB line, NUL, negative values, cores > node, a duplicate id, an unknown field, an escaping id, ...) at random lines",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		n := 100 * env.Scale
		lines := strings.Split(strings.TrimSuffix(string(sleepQueue(n, 0.05)), "\n"), "\n")
		extra := append([]string{}, goodOdd...)
		for _, l := range badLines {
			extra = append(extra, l)
		}
		env.Rand.Shuffle(len(extra), func(i, j int) { extra[i], extra[j] = extra[j], extra[i] })
		for _, l := range extra {
			// Line 1 stays t0000 so the duplicate of t0001 comes after it.
			pos := 2 + env.Rand.IntN(len(lines)-1)
			lines = append(lines[:pos], append([]string{l}, lines[pos:]...)...)
		}
		c, err := newRun(ctx, env, []byte(strings.Join(lines, "\n")+"\n"), 3)
		if err != nil {
			return out, err
		}
		defer c.Stop(5 * time.Second)
		total := len(lines)
		if err := c.WaitFinished(ctx, total, 120*time.Second); err != nil {
			return out, err
		}
		for _, a := range c.Agents {
			if !a.Alive() {
				out.Report.violate("agent %s died on bad input:\n%s", a.Name, a.Tail(10))
			}
		}
		early := out.Report.Violations
		err = finish(ctx, c, total, time.Second, &out)
		out.Report.Violations = append(early, out.Report.Violations...)
		res, rerr := records(c.ResultsPath())
		if rerr != nil {
			return out, rerr
		}
		bad := 0
		for id, r := range res {
			good := strings.HasPrefix(id, "t") && id != "toowide" && id != "typo" || id == "unicode" || id == "zerotimeout"
			switch {
			case good && r.State != "done":
				out.Report.violate("valid task %s ended %s: %s", id, r.State, r.Error)
			case !good && (r.State != "failed" || r.Error == ""):
				out.Report.violate("bad record %s ended %s with no reason (%q)", id, r.State, r.Error)
			case !good:
				bad++
			}
		}
		if bad != len(badLines) {
			out.Report.violate("%d bad records got a failed record with a reason, want %d", bad, len(badLines))
		}
		out.Note = fmt.Sprintf("%d bad records rejected with a reason", bad)
		return out, err
	}}

// mutatingQueue is scenario 25: the queue file grows under the cluster:
// appends, and a line written in two halves with a pause between. No
// partial line may be consumed; every complete one exactly once.
var mutatingQueue = Scenario{ID: 25, Name: "queue-mutating",
	Scaled: "3 agents x 2 cores, 100*scale tasks of 0.1 s at the start; 3 appends of 30 tasks, one ending in half a line completed after more results; no truncation or rewrite",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		n := 100 * env.Scale
		c, err := newRun(ctx, env, sleepQueue(n, 0.1), 3)
		if err != nil {
			return out, err
		}
		defer c.Stop(5 * time.Second)
		f, err := os.OpenFile(c.Queue, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return out, err
		}
		defer f.Close()
		total := n
		for k := range 3 {
			if err := c.WaitFinished(ctx, total-at(env, n, 0.1, 0.5), 120*time.Second); err != nil {
				return out, err
			}
			var b strings.Builder
			for i := range 30 {
				id := fmt.Sprintf("m%d-%02d", k, i)
				fmt.Fprintf(&b, `{"id":%q,"cmd":["sleep","0.1"],"input":%q}`+"\n", id, id)
			}
			half := fmt.Sprintf(`{"id":"half%d","cmd":["sleep","0.1"],"input":"half%d"}`, k, k)
			cut := 1 + env.Rand.IntN(len(half)-1)
			env.Logf("append 30 tasks and half a line at %d results", c.Finished())
			if _, err := f.WriteString(b.String() + half[:cut]); err != nil {
				return out, err
			}
			total += 30
			// The complete lines are consumed while half a line waits.
			if err := c.WaitFinished(ctx, total, 120*time.Second); err != nil {
				return out, err
			}
			if _, err := f.WriteString(half[cut:] + "\n"); err != nil {
				return out, err
			}
			total++
		}
		err = finish(ctx, c, total, 120*time.Second, &out)
		if out.Report.Tasks != total {
			out.Report.violate("the checker read %d records to expect, the scenario wrote %d", out.Report.Tasks, total)
		}
		return out, err
	}}
