package chaos

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// upstreamFaults is scenario 23 with a broken network path instead of a
// dead server: the agents reach 'pilot serve' through a FaultProxy that,
// in three episodes (one of each fault, in a seeded order), answers 5xx,
// holds requests until the client gives up, or drops connections, each
// either before the server acted or after it did (its answer lost: a
// lease granted, results accepted). Nothing may be lost or recorded
// twice, and the agents' retries must recover once the path heals.
var upstreamFaults = Scenario{ID: 23, Name: "upstream-faults",
	Scaled: "3 agents x 2 cores on a 'pilot serve' URL through a fault proxy, 200*scale tasks of 0.1 s; 3 episodes of 3-6 s (5xx, hang, drop in a seeded order) hitting 50-100% of requests, before or after the server acted (a coin toss each); recovery timed from the end of each episode",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		n := 200 * env.Scale
		var p *FaultProxy
		c, s, err := servedRun(ctx, env, sleepQueue(n, 0.1), func(direct string) (string, error) {
			var err error
			p, err = StartFaultProxy(direct, env.Seed)
			if err != nil {
				return "", err
			}
			return p.URL, nil
		})
		if err != nil {
			return out, err
		}
		defer func() { s.kill() }()
		defer p.Close()
		if err := c.StartN(3, 3); err != nil {
			return out, err
		}
		defer c.Stop(5 * time.Second)
		if _, err := c.Leader(ctx, 30*time.Second); err != nil {
			return out, err
		}
		faults := []Fault{Status5, Hang, Drop}
		env.Rand.Shuffle(len(faults), func(i, j int) { faults[i], faults[j] = faults[j], faults[i] })
		var notes []string
		for k, f := range faults {
			if err := c.WaitFinished(ctx, at(env, n, 0.1+0.25*float64(k), 0.1+0.25*float64(k+1)), 180*time.Second); err != nil {
				return out, err
			}
			span := time.Duration(3000+env.Rand.IntN(3000)) * time.Millisecond
			rate := 0.5 + 0.5*env.Rand.Float64()
			env.Logf("fault proxy: %s on %.0f%% of requests for %s at %d results", f, 100*rate, span, c.Finished())
			p.Set(f, rate)
			// The episode is the fault: a fixed span of wall time is its measure.
			time.Sleep(span)
			p.Set(Pass, 0)
			rec, err := c.Recovery(ctx, n, 180*time.Second)
			if err != nil {
				return out, err
			}
			env.Logf("fault proxy: %s healed; the next result came %s later", f, rec.Round(time.Millisecond))
			out.Recover = max(out.Recover, rec)
			notes = append(notes, fmt.Sprintf("%s %.0f%% %s: recovered in %s", f, 100*rate, span.Round(100*time.Millisecond), rec.Round(100*time.Millisecond)))
		}
		err = finish(ctx, c, n, 180*time.Second, &out)
		met, total := 0, 0
		for k, v := range p.Counts() {
			total += v
			if k != Pass.String() {
				met += v
			}
		}
		notes = append(notes, fmt.Sprintf("%d of %d requests met a fault", met, total))
		out.Note = strings.Join(notes, ", ")
		return out, err
	}}
