package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/pilot"
	"github.com/pilot-hpc/pilot/task"
)

// asPilotEnv makes this test binary run as the pilot command (TestMain),
// and so do the agents 'pilot local' starts from it.
const asPilotEnv = "PILOT_TEST_AS_PILOT"

func TestMain(m *testing.M) {
	if os.Getenv(asPilotEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// pilotCmd is this binary run as 'pilot ARGS...', with TMPDIR set to tmp
// (where 'pilot local' puts its agents' data directories).
func pilotCmd(tmp string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asPilotEnv+"=1", "TMPDIR="+tmp)
	return cmd
}

// runPilot runs 'pilot ARGS...' to its end and returns stdout, stderr and
// the exit code.
func runPilot(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runBounded(t, pilotCmd(os.TempDir(), args...))
}

// statusJSON runs 'pilot status --json'.
func statusJSON(t *testing.T, queue string) pilot.Report {
	t.Helper()
	out, errs, code := runPilot(t, "status", "--queue", queue, "--json", "--no-slurm")
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, errs)
	}
	var rep pilot.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return rep
}

// writeQueue writes n tasks that sleep for sleep seconds, each with its
// own input (so none is a cache hit of another).
func writeQueue(t *testing.T, dir string, n int, sleep string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"id":"t%03d","cmd":["sleep","%s"],"input":"%d","cores":1,"est_s":1}`+"\n", i, sleep, i)
	}
	q := filepath.Join(dir, "q.jsonl")
	if err := os.WriteFile(q, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return q
}

// startLocal starts 'pilot local' on queue in the background; the agents'
// data directories are under tmp. The channel closes when it exits;
// cleanup stops it and waits for it.
func startLocal(t *testing.T, tmp, queue string, follow bool) <-chan struct{} {
	t.Helper()
	args := []string{"local", "--nodes", "3", "--cores-per-node", "2", "--queue", queue}
	if follow {
		args = append(args, "--follow")
	}
	cmd := pilotCmd(tmp, args...)
	log, err := os.Create(filepath.Join(tmp, "local.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(45 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return done
}

// checkSums fails unless every task upstream is in exactly one state and
// the live cluster's numbers are consistent with themselves.
func checkSums(t *testing.T, rep pilot.Report, total int) {
	t.Helper()
	u := rep.Upstream
	if sum := u.Pending + u.Leased + u.Done + u.Failed + u.Flushed; sum != total || rep.Total != total {
		t.Fatalf("upstream counts %+v add up to %d (report total %d), want %d", u, sum, rep.Total, total)
	}
	if !rep.Live {
		return
	}
	l := rep.Ledger
	if l == nil {
		t.Fatal("a live cluster reported no ledger")
	}
	if rep.InTransit != u.Leased-l.Tasks() {
		t.Fatalf("in transit %d, want leased %d - ledger %d", rep.InTransit, u.Leased, l.Tasks())
	}
	cores, running, assigned := 0, 0, 0
	for _, n := range rep.Nodes {
		if n.CoresBusy != min(n.Running, n.CoresTotal) {
			t.Fatalf("node %s: %d running tasks of one core, %d of its %d cores busy", n.ID, n.Running, n.CoresBusy, n.CoresTotal)
		}
		cores += n.CoresTotal
		running += n.Running
		assigned += n.Assigned
	}
	if running != l.Running || assigned != l.Assigned {
		t.Fatalf("nodes run %d and hold %d assigned; the ledger has %d running and %d assigned", running, assigned, l.Running, l.Assigned)
	}
	if cores != 6 && cores != 0 && len(rep.Nodes) == 3 {
		t.Fatalf("3 nodes offer %d cores, want 6", cores)
	}
}

// liveStatus polls 'pilot status --json' until it reaches the live
// cluster: one read may miss the leader while leadership moves, or when a
// loaded machine makes it answer slowly.
func liveStatus(t *testing.T, queue string, total int) pilot.Report {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rep := statusJSON(t, queue)
		checkSums(t, rep, total)
		if rep.Live {
			return rep
		}
		t.Logf("status did not reach the cluster: %s", rep.NoCluster)
		if time.Now().After(deadline) {
			t.Fatalf("no live cluster for 30s: %s", rep.NoCluster)
		}
	}
}

func TestStatusWithoutLiveCluster(t *testing.T) {
	dir := t.TempDir()
	queue := writeQueue(t, dir, 5, "1")
	rep := statusJSON(t, queue)
	checkSums(t, rep, 5)
	if rep.Live || rep.Upstream.Pending != 5 || !strings.Contains(rep.NoCluster, "no leader record") {
		t.Fatalf("status of a campaign never run: %+v", rep)
	}

	// A leader record of a cluster that is gone: status says so and works.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close()
	rec := fmt.Sprintf(`{"node":"n1","http":%q,"pilot":"4242","since":"2026-01-02T03:04:05Z"}`, gone)
	if err := os.WriteFile(filepath.Join(queue+".pilot", pilot.LeaderFile), []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	rep = statusJSON(t, queue)
	if rep.Live || !strings.Contains(rep.NoCluster, "does not answer at "+gone) {
		t.Fatalf("status with a dead leader: live %v, %q", rep.Live, rep.NoCluster)
	}
	out, errs, code := runPilot(t, "status", "--queue", queue, "--no-slurm")
	if code != 0 || !strings.Contains(out, "no live cluster") || !strings.Contains(out, "5 tasks = pending 5 + leased 0") {
		t.Fatalf("status text: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestStatusCountsAddUpDuringRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-agent cluster")
	}
	dir := t.TempDir()
	const n = 36
	queue := writeQueue(t, dir, n, "0.5")
	exited := startLocal(t, dir, queue, false)

	// Poll in this process too (the same code as 'pilot status', over the
	// same files and HTTP), many times a second, besides the command.
	w, err := pilot.WatchStatus(pilot.CampaignConfig{Queue: queue})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	live, polls, checked := 0, 0, false
	deadline := time.Now().Add(60 * time.Second)
	for {
		rep, err := w.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if polls%10 == 0 {
			cli := statusJSON(t, queue)
			checkSums(t, cli, n)
		}
		polls++
		checkSums(t, *rep, n)
		if rep.Live {
			if !checked && len(rep.Pilots) == 3 {
				// The leader's record comes first; the other agents
				// join the ledger and learn of the leader after it.
				checkHTTP(t, queue)
				checked = true
			}
			live++
			if rep.Leader == "" || len(rep.Pilots) > 3 {
				t.Fatalf("live status without a leader or with %d pilots: %+v", len(rep.Pilots), rep)
			}
		}
		if rep.Upstream.Done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done within a minute: %+v", rep.Upstream)
		}
		select {
		case <-exited:
			if rep := statusJSON(t, queue); rep.Upstream.Done != n {
				t.Fatalf("pilot local exited with %+v (log: %s)", rep.Upstream, filepath.Join(dir, "local.out"))
			}
		case <-time.After(50 * time.Millisecond):
			continue
		}
		break
	}
	if live == 0 {
		t.Fatalf("none of %d status polls saw the live cluster", polls)
	}
	if !checked {
		t.Fatalf("none of %d status polls saw the 3 agents' cluster live", polls)
	}
	t.Logf("%d polls, %d of them of the live cluster", polls, live)
}

// checkHTTP checks the agents' status servers: the leader's metrics, a
// follower's redirect to the leader, a flush with a wrong token refused.
func checkHTTP(t *testing.T, queue string) {
	t.Helper()
	rec, err := pilot.ReadLeaderRecord(queue + ".pilot")
	if err != nil {
		t.Fatal(err)
	}
	addrs := map[string]string{} // node → HTTP address, from the agents' logs
	logs, _ := filepath.Glob(filepath.Join(queue+".pilot", "logs", "*.log"))
	for _, l := range logs {
		readLines(t, l, func(b []byte) {
			line := string(b)
			if !strings.Contains(line, `msg="status HTTP"`) {
				return
			}
			var node, addr string
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, "node="); ok {
					node = v
				}
				if v, ok := strings.CutPrefix(f, "addr="); ok {
					addr = v
				}
			}
			addrs[node] = addr
		})
	}
	if len(addrs) != 3 || addrs[rec.Node] != rec.HTTP {
		t.Fatalf("agents' status servers %v; leader record %+v", addrs, rec)
	}
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get("http://" + rec.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"pilot_leader 1", `pilot_node_cores_total{node="local-1",pilot="local-1"} 2`, `pilot_ledger_tasks{state="running"}`, "pilot_results_written_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("leader's metrics lack %q", want)
		}
	}
	for node, addr := range addrs {
		if node == rec.Node {
			continue
		}
		// A follower answers 503 until Raft there has heard from the
		// leader: poll the process for a while.
		for deadline := time.Now().Add(15 * time.Second); ; {
			resp, err := c.Get("http://" + addr + "/status")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusTemporaryRedirect && resp.Header.Get("Location") == "http://"+rec.HTTP+"/status" {
				break
			}
			if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Errorf("follower %s: %s to %q, want a redirect to the leader at %s", node, resp.Status, resp.Header.Get("Location"), rec.HTTP)
				break
			}
			time.Sleep(50 * time.Millisecond) // polling another process
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+rec.HTTP+"/flush", strings.NewReader(`{"cancel_running":true}`))
	req.Header.Set("Authorization", "Bearer not-the-token")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("flush with a wrong token: %s", resp.Status)
	}
}

func TestFlushMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-agent cluster")
	}
	dir := t.TempDir()
	const n = 60
	queue := writeQueue(t, dir, n, "1")
	startLocal(t, dir, queue, true)

	// Wait until some tasks are done and six run.
	deadline := time.Now().Add(60 * time.Second)
	for {
		rep := statusJSON(t, queue)
		checkSums(t, rep, n)
		if rep.Live && rep.Upstream.Done >= 3 && rep.Ledger.Running >= 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster never ran six tasks at once: %+v", rep)
		}
	}

	out, errs, code := runPilot(t, "flush", "--queue", queue, "--yes", "--json")
	flushed := time.Now()
	if code != 0 {
		t.Fatalf("flush: exit %d\n%s\n%s", code, out, errs)
	}
	var fr pilot.CampaignFlush
	if err := json.Unmarshal([]byte(out), &fr); err != nil {
		t.Fatalf("flush --json: %v\n%s", err, out)
	}
	if fr.Cluster == nil || fr.Upstream.Pending+fr.Upstream.Leased == 0 {
		t.Fatalf("flush did not reach the live cluster or dropped nothing: %s", out)
	}

	rep := liveStatus(t, queue, n)
	if rep.Upstream.Pending != 0 || rep.Upstream.Leased != 0 || rep.Ledger.Queued != 0 || rep.Ledger.Assigned != 0 {
		t.Fatalf("right after the flush: upstream %+v, ledger %+v", rep.Upstream, rep.Ledger)
	}
	archived := map[string]bool{}
	readLines(t, fr.Upstream.Archive, func(b []byte) {
		var s task.Spec
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("archive %s: %v", fr.Upstream.Archive, err)
		}
		archived[s.ID] = true
	})
	if len(archived) != fr.Upstream.Pending+fr.Upstream.Leased {
		t.Fatalf("archive holds %d tasks, flush reported %d+%d", len(archived), fr.Upstream.Pending, fr.Upstream.Leased)
	}

	// The running tasks finish; upstream refuses their results, and the
	// leader records the refusals.
	for {
		rep = statusJSON(t, queue)
		checkSums(t, rep, n)
		if rep.Ledger != nil && rep.Ledger.Tasks() == 0 && rep.Refused > 0 {
			break
		}
		if time.Now().After(flushed.Add(30 * time.Second)) {
			t.Fatalf("the running tasks did not leave the ledger: %+v refused %d", rep.Ledger, rep.Refused)
		}
	}
	if rep.Upstream.Pending != 0 || rep.Upstream.Done+rep.Upstream.Flushed != n {
		t.Fatalf("after the flush settled: %+v", rep.Upstream)
	}
	refused := 0
	readLines(t, filepath.Join(queue+".pilot", pilot.RefusedFile), func(b []byte) {
		var r pilot.RefusedRecord
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if !archived[r.Result.ID] {
			t.Errorf("refused result of %s, which the flush did not archive", r.Result.ID)
		}
		refused++
	})
	if refused != rep.Refused {
		t.Fatalf("status counts %d refused, the file has %d", rep.Refused, refused)
	}

	// No attempt started after the flush returned.
	logs, _ := filepath.Glob(filepath.Join(dir, "pilot-local-*", "*", "attempts.jsonl"))
	if len(logs) != 3 {
		t.Fatalf("found %d attempt logs, want 3", len(logs))
	}
	attempts := 0
	for _, l := range logs {
		readLines(t, l, func(b []byte) {
			var a struct {
				Task  string
				Start time.Time
			}
			if err := json.Unmarshal(b, &a); err != nil {
				t.Fatal(err)
			}
			attempts++
			if a.Start.After(flushed) {
				t.Errorf("attempt of %s started at %s, after the flush returned at %s", a.Task, a.Start, flushed)
			}
		})
	}
	t.Logf("flushed %d pending + %d leased; ledger dropped %d; %d late results refused; %d attempts in all",
		fr.Upstream.Pending, fr.Upstream.Leased, fr.Cluster.Dropped, refused, attempts)
}

func readLines(t *testing.T, path string, fn func([]byte)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			fn(sc.Bytes())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestFlushCancelRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-agent cluster")
	}
	dir := t.TempDir()
	const n = 24
	queue := writeQueue(t, dir, n, "20")
	startLocal(t, dir, queue, true)
	deadline := time.Now().Add(60 * time.Second)
	for {
		rep := statusJSON(t, queue)
		checkSums(t, rep, n)
		if rep.Live && rep.Ledger.Running >= 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster never ran six tasks at once: %+v", rep)
		}
	}
	out, errs, code := runPilot(t, "flush", "--queue", queue, "--cancel-running", "--yes", "--json")
	flushed := time.Now()
	if code != 0 {
		t.Fatalf("flush: exit %d\n%s\n%s", code, out, errs)
	}
	var fr pilot.CampaignFlush
	if err := json.Unmarshal([]byte(out), &fr); err != nil {
		t.Fatal(err)
	}
	if fr.Cluster == nil || fr.Cluster.Cancelled < 6 || fr.Upstream.Pending+fr.Upstream.Leased != n {
		t.Fatalf("flush --cancel-running: %s", out)
	}
	rep := liveStatus(t, queue, n)
	if rep.Ledger.Tasks() != 0 || rep.Upstream.Flushed != n {
		t.Fatalf("right after the flush: %+v, ledger %+v", rep.Upstream, rep.Ledger)
	}
	// Every attempt ends long before its 20 seconds: the cancelled ones
	// were stopped, and none started after the flush.
	var ended int
	for ended < 6 {
		ended = 0
		logs, _ := filepath.Glob(filepath.Join(dir, "pilot-local-*", "*", "attempts.jsonl"))
		for _, l := range logs {
			readLines(t, l, func(b []byte) {
				var a struct {
					Task       string
					Start, End time.Time
				}
				if err := json.Unmarshal(b, &a); err != nil {
					t.Fatal(err)
				}
				ended++
				if a.Start.After(flushed) || a.End.Sub(a.Start) > 15*time.Second {
					t.Errorf("attempt of %s ran %s to %s; the flush returned at %s", a.Task, a.Start, a.End, flushed)
				}
			})
		}
		if time.Now().After(flushed.Add(15 * time.Second)) {
			t.Fatalf("%d of 6 cancelled attempts ended within 15s", ended)
		}
		if ended < 6 {
			<-time.After(100 * time.Millisecond) // the agents are other processes: poll their logs
		}
	}
	if rep := statusJSON(t, queue); rep.Refused != 0 || rep.Upstream.Done != 0 {
		t.Fatalf("cancelled attempts left results: %+v, %d refused", rep.Upstream, rep.Refused)
	}
}
