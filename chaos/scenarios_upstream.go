package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pilot-hpc/pilot/upstream"
)

// server is a 'pilot serve' process this harness runs and kills.
type server struct {
	bin, dir, addr, token string
	cmd                   *exec.Cmd
	done                  chan struct{}
}

// startServer starts 'pilot serve' on addr with its data in dir and waits
// until it answers.
func startServer(ctx context.Context, s *server) error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "serve.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	s.cmd = exec.Command(s.bin, "serve", "--listen", s.addr, "--data", filepath.Join(s.dir, "queue"), "--token-file", filepath.Join(s.dir, "tokens"))
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start pilot serve: %w", err)
	}
	s.done = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("pilot serve on %s does not answer after 20s (log %s): %v", s.addr, filepath.Join(s.dir, "serve.log"), err)
		}
		select {
		case <-s.done:
			return fmt.Errorf("pilot serve exited at start; see %s", filepath.Join(s.dir, "serve.log"))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// freeAddr returns a 127.0.0.1 address with a port free now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

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

// upstreamOutage is scenario 23: the agents work a 'pilot serve' queue;
// the server is killed (kill -9) mid-run, stays away for a while, and
// comes back on its data. Nothing may be lost or recorded twice.
var upstreamOutage = Scenario{ID: 23, Name: "upstream-outage",
	Scaled: "3 agents x 2 cores on a 'pilot serve' URL, 200*scale tasks of 0.1 s; the server killed -9 at a random point and restarted on its data after 2-5 s (not a 10-minute blackhole; no 5xx injection)",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		n := 200 * env.Scale
		c, s, err := servedRun(ctx, env, sleepQueue(n, 0.1), func(direct string) (string, error) { return direct, nil })
		if err != nil {
			return out, err
		}
		defer func() { s.kill() }()
		if err := c.StartN(3, 3); err != nil {
			return out, err
		}
		defer c.Stop(5 * time.Second)
		if _, err := c.Leader(ctx, 30*time.Second); err != nil {
			return out, err
		}
		if err := c.WaitFinished(ctx, at(env, n, 0.2, 0.6), 120*time.Second); err != nil {
			return out, err
		}
		outage := time.Duration(2000+env.Rand.IntN(3000)) * time.Millisecond
		env.Logf("kill -9 the queue server at %d results, for %s", c.Finished(), outage)
		s.kill()
		// The outage is the fault: a fixed span of wall time is its measure.
		time.Sleep(outage)
		if err := startServer(ctx, s); err != nil {
			return out, err
		}
		if out.Recover, err = c.Recovery(ctx, n, 90*time.Second); err != nil {
			return out, err
		}
		err = finish(ctx, c, n, 120*time.Second, &out)
		out.Note = fmt.Sprintf("server down %s", outage.Round(time.Millisecond))
		return out, err
	}}

// fetchResults writes every result record of a queue server to path.
func fetchResults(ctx context.Context, q upstream.Queue, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	var cur upstream.Cursor
	for {
		page, next, err := q.Results(ctx, cur, 10000)
		if err != nil {
			return fmt.Errorf("read the queue server's results: %w", err)
		}
		for _, r := range page {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		if len(page) == 0 || next == cur {
			return nil
		}
		cur = next
	}
}
