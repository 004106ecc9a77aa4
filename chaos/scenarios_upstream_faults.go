package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pilot-hpc/pilot/upstream"
)

// servedRun starts 'pilot serve', submits data to it and makes the cluster
// whose agents work the queue at queueURL(server URL) (the server itself,
// or a proxy in front of it). The harness's own client (c.up, for the
// count of final tasks) talks to the server directly. The caller kills
// the server and stops the cluster.
func servedRun(ctx context.Context, env *Env, data []byte, queueURL func(string) (string, error)) (*Cluster, *server, error) {
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, nil, err
	}
	s := &server{bin: env.Bin, dir: env.Dir, token: hex.EncodeToString(tok)}
	var err error
	if s.addr, err = freeAddr(); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(env.Dir, "tokens"), []byte("admin "+s.token+" chaos\n"), 0o600); err != nil {
		return nil, nil, err
	}
	if err := startServer(ctx, s); err != nil {
		return nil, nil, err
	}
	c, err := NewCluster(env.Bin, env.Dir, data)
	if err != nil {
		s.kill()
		return nil, nil, err
	}
	direct := "http://" + s.addr
	sub := exec.CommandContext(ctx, env.Bin, "submit", "--queue", direct, c.Queue)
	sub.Env = append(os.Environ(), "PILOT_TOKEN="+s.token)
	if b, err := sub.CombinedOutput(); err != nil {
		s.kill()
		return nil, nil, fmt.Errorf("pilot submit: %w: %s", err, b)
	}
	if c.Queue, err = queueURL(direct); err != nil {
		s.kill()
		return nil, nil, err
	}
	c.Env = []string{"PILOT_TOKEN=" + s.token}
	c.State = filepath.Join(env.Dir, "state")
	q, err := upstream.OpenHTTP(direct, upstream.HTTPOptions{Token: s.token, RetryFor: time.Second, Timeout: 2 * time.Second})
	if err != nil {
		s.kill()
		return nil, nil, err
	}
	c.up = q
	c.input = filepath.Join(env.Dir, "q.jsonl")
	return c, s, nil
}

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
		notes = append(notes, fmt.Sprintf("requests %v", p.Counts()))
		out.Note = strings.Join(notes, ", ")
		return out, err
	}}
