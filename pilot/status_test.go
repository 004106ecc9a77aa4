package pilot

import (
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
	"github.com/pilot-hpc/pilot/task"
)

func TestClusterStatusFromLedger(t *testing.T) {
	l := ledger.New()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) int64 { return t0.Add(time.Duration(s) * time.Second).UnixNano() }
	end := t0.Add(time.Hour)
	idx := uint64(0)
	apply := func(c ledger.Command) {
		t.Helper()
		idx++
		if err := l.ApplyCommand(idx, c).Err(); err != nil {
			t.Fatal(err)
		}
		if err := l.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
	}
	apply(ledger.AgentJoined{At: at(0), Node: ledger.NodeInfo{ID: "a", Cores: 4, Pilot: "101", PilotEnd: end.UnixNano()}})
	apply(ledger.AgentJoined{At: at(0), Node: ledger.NodeInfo{ID: "b", Cores: 2, Pilot: "101", PilotEnd: end.UnixNano()}})
	apply(ledger.AgentJoined{At: at(0), Node: ledger.NodeInfo{ID: "c", Cores: 8, Pilot: "202"}})
	var in []ledger.Leased
	for _, id := range []string{"t1", "t2", "t3", "t4", "t5"} {
		in = append(in, ledger.Leased{Spec: task.Spec{ID: id, Cmd: []string{"true"}, Cores: 1}, Lease: "L" + id})
	}
	apply(ledger.Ingest{At: at(1), Tasks: in})
	apply(ledger.Assign{At: at(2), Items: []ledger.Assignment{{Task: "t1", Node: "a", Attempt: 1}, {Task: "t2", Node: "a", Attempt: 1}, {Task: "t3", Node: "b", Attempt: 1}, {Task: "t4", Node: "c", Attempt: 1}}})
	apply(ledger.Started{At: at(5), Items: []ledger.AttemptRef{{Task: "t2", Attempt: 1}}})
	apply(ledger.Started{At: at(3), Items: []ledger.AttemptRef{{Task: "t3", Attempt: 1}}})
	apply(ledger.Started{At: at(4), Items: []ledger.AttemptRef{{Task: "t1", Attempt: 1}}})

	now := t0.Add(10 * time.Second)
	st := clusterStatus(l.View(), now)
	if c := st.Ledger; c.Queued != 1 || c.Assigned != 1 || c.Running != 3 || c.Nodes != 3 {
		t.Fatalf("counts %+v", c)
	}
	if st.Oldest == nil || st.Oldest.ID != "t3" || st.Oldest.AgeS != 7 {
		t.Fatalf("oldest running %+v, want t3 for 7s", st.Oldest)
	}
	if len(st.Running) != 3 || st.Running[0].ID != "t3" || st.Running[1].ID != "t1" || st.Running[2].ID != "t2" {
		t.Fatalf("running, oldest first: %+v", st.Running)
	}
	want := map[string]struct {
		busy, total, running, assigned int
		oldest                         string
	}{"a": {2, 4, 2, 0, "t1"}, "b": {1, 2, 1, 0, "t3"}, "c": {0, 8, 0, 1, ""}}
	for _, n := range st.Nodes {
		w := want[n.ID]
		old := ""
		if n.Oldest != nil {
			old = n.Oldest.ID
		}
		if n.CoresBusy != w.busy || n.CoresTotal != w.total || n.Running != w.running || n.Assigned != w.assigned || old != w.oldest {
			t.Errorf("node %s: %+v (oldest %q), want %+v", n.ID, n, old, w)
		}
	}
	if len(st.Pilots) != 2 {
		t.Fatalf("pilots %+v", st.Pilots)
	}
	p := st.Pilots[0]
	if p.ID != "101" || p.Nodes != 2 || p.CoresBusy != 3 || p.CoresTotal != 6 || !p.End.Equal(end) || p.LeftS != end.Sub(now).Seconds() {
		t.Fatalf("pilot 101: %+v", p)
	}
	if q := st.Pilots[1]; q.ID != "202" || !q.End.IsZero() || q.CoresTotal != 8 {
		t.Fatalf("pilot 202: %+v", q)
	}
	if busy, total := busyCores(l.View()); busy != 3 || total != 14 {
		t.Fatalf("busyCores %d/%d", busy, total)
	}
	if st.RetryWaiting != 0 {
		t.Fatalf("retry waiting %d before any requeue", st.RetryWaiting)
	}
	apply(ledger.Requeue{At: at(6), Items: []ledger.AttemptRef{{Task: "t4", Attempt: 1}}})
	if st := clusterStatus(l.View(), now); st.RetryWaiting != 1 || st.Ledger.Queued != 2 {
		t.Fatalf("after a requeue: retry waiting %d, queued %d", st.RetryWaiting, st.Ledger.Queued)
	}
}

func TestRate(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := newRate(t0)
	// Half the cores busy for a minute, all of them for the next.
	r.cores(t0, 5, 10)
	r.cores(t0.Add(time.Minute), 10, 10)
	r.written(30, 1800)
	r.cores(t0.Add(2*time.Minute), 10, 10)
	th := r.snapshot(t0.Add(2 * time.Minute))
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	if !near(th.Utilization, 0.75) || !near(th.UtilizationNow, 1) {
		t.Fatalf("utilisation %v now %v, want 0.75 and 1", th.Utilization, th.UtilizationNow)
	}
	if !near(th.TasksPerH, 900) || !near(th.CoreHoursPerH, 15) || th.ResultsWritten != 30 {
		t.Fatalf("rates %+v, want 900 tasks/h and 15 core-h/h", th)
	}
	// The window slides: what was written more than rateWindow ago no
	// longer counts.
	for s := 1; s <= int(rateWindow/time.Minute)+1; s++ {
		r.cores(t0.Add(time.Duration(2+s)*time.Minute), 10, 10)
	}
	if th := r.snapshot(t0.Add(rateWindow + 3*time.Minute)); th.TasksPerH != 0 || th.WindowS < rateWindow.Seconds()-60 {
		t.Fatalf("after the window slid past: %+v", th)
	}
	r.reset(t0)
	if th := r.snapshot(t0); th.ResultsWritten != 0 || th.Utilization != 0 {
		t.Fatalf("after reset: %+v", th)
	}
}

func TestLeaderRecordAndToken(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadLeaderRecord(dir); !os.IsNotExist(err) {
		t.Fatalf("no record yet: %v", err)
	}
	rec := LeaderRecord{Node: "n1", HTTP: "127.0.0.1:1", Pilot: "7", Since: time.Unix(100, 0).UTC()}
	if err := writeLeaderRecord(dir, rec); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLeaderRecord(dir)
	if err != nil || got != rec {
		t.Fatalf("read %+v, %v", got, err)
	}
	removeLeaderRecord(dir, "n2")
	if _, err := ReadLeaderRecord(dir); err != nil {
		t.Fatal("another node removed the record")
	}
	removeLeaderRecord(dir, "n1")
	if _, err := ReadLeaderRecord(dir); !os.IsNotExist(err) {
		t.Fatalf("the leader's record stayed: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	a, b := AdminToken([]byte("key-one-key-one-key-one-key-one!")), AdminToken([]byte("key-two-key-two-key-two-key-two!"))
	if a == b || len(a) != 64 || a != AdminToken([]byte("key-one-key-one-key-one-key-one!")) {
		t.Fatalf("tokens %s %s", a, b)
	}

	o := &observer{token: a}
	for _, c := range []struct {
		header string
		ok     bool
	}{{"Bearer " + a, true}, {"Bearer " + b, false}, {"Bearer " + a[:63], false}, {a, false}, {"", false}} {
		r := httptest.NewRequest(http.MethodPost, "/flush", strings.NewReader("{}"))
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		if o.authorized(r) != c.ok {
			t.Errorf("Authorization %q: authorized %v, want %v", c.header, !c.ok, c.ok)
		}
		w := httptest.NewRecorder()
		if !c.ok {
			o.serveFlush(w, r)
			if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), codeUnauthorized) {
				t.Errorf("flush with %q: %d %s", c.header, w.Code, w.Body)
			}
		}
	}
}
