package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
	"github.com/pilot-hpc/pilot/upstream/server/wire"
)

// raw sends one request and decodes the error envelope if there is one.
func raw(t *testing.T, method, url, token, body string) (int, wire.ErrorDetail) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var env wire.ErrorBody
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(data, &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
			t.Fatalf("%s %s: status %d without an error envelope: %s", method, url, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, env.Error
}

func TestRefusalsAreClearAndStoreNothing(t *testing.T) {
	url := testServer(t, Config{MaxBodyBytes: 64 << 10})
	big := `{"id":"big","cmd":["x"],"input":"` + strings.Repeat("x", 70<<10) + `"}`
	cases := []struct {
		name, method, path, token, body string
		status                          int
		code, msg                       string
	}{
		{"no token", "POST", wire.PathTasks, "", `{"id":"a","cmd":["x"]}`, 401, wire.CodeUnauthorized, "needs role submit"},
		{"wrong token", "POST", wire.PathTasks, "guess-guess-guess-guess", `{"id":"a","cmd":["x"]}`, 401, wire.CodeUnauthorized, "needs a token of role submit"},
		{"pilot cannot submit", "POST", wire.PathTasks, tokPilot, `{"id":"a","cmd":["x"]}`, 403, wire.CodeForbidden, `"site-a" has role pilot; POST /v1/tasks needs role submit`},
		{"submitter cannot lease", "POST", wire.PathLease, tokSubmit, `{"cluster":"a","max_tasks":1,"ttl_s":9}`, 403, wire.CodeForbidden, "needs role pilot"},
		{"submitter cannot flush", "POST", wire.PathFlush, tokSubmit, ``, 403, wire.CodeForbidden, "needs role admin"},
		{"pilot cannot flush", "POST", wire.PathFlush, tokPilot, ``, 403, wire.CodeForbidden, "needs role admin"},
		{"no token for status", "GET", wire.PathStatus, "", ``, 401, wire.CodeUnauthorized, "needs any role"},
		{"oversized", "POST", wire.PathTasks, tokSubmit, big, 413, wire.CodeTooLarge, "limit of 65536 bytes"},
		{"unknown field", "POST", wire.PathLease, tokPilot, `{"cluster":"a","max_tasks":1,"ttl_s":9,"maxtasks":3}`, 400, wire.CodeBadRequest, `unknown field "maxtasks"`},
		{"trailing text", "POST", wire.PathLease, tokPilot, `{"cluster":"a","max_tasks":1,"ttl_s":9} {}`, 400, wire.CodeBadRequest, "text after"},
		{"escaping cluster", "POST", wire.PathLease, tokPilot, `{"cluster":"../../etc","max_tasks":1,"ttl_s":9}`, 400, wire.CodeBadRequest, "cluster"},
		{"no ttl", "POST", wire.PathLease, tokPilot, `{"cluster":"a","max_tasks":1}`, 400, wire.CodeBadRequest, "ttl"},
		{"escaping result id", "POST", wire.PathComplete, tokPilot, `{"cluster":"a","results":[{"id":"../../etc/passwd","state":"done"}]}`, 400, wire.CodeBadRequest, "must match"},
		{"unknown result field", "POST", wire.PathComplete, tokPilot, `{"cluster":"a","results":[{"id":"a","state":"done","stat":1}]}`, 400, wire.CodeBadRequest, `unknown field "stat"`},
		{"unknown parameter", "GET", wire.PathResults + "?form=3", tokSubmit, ``, 400, wire.CodeBadRequest, `unknown parameter "form"`},
		{"wrong method", "GET", wire.PathTasks, tokSubmit, ``, 405, wire.CodeMethodNotAllowed, "takes POST"},
		{"no such path", "GET", "/v1/../etc/passwd", tokAdmin, ``, 404, wire.CodeNotFound, "no endpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, e := raw(t, c.method, url+c.path, c.token, c.body)
			if status != c.status || e.Code != c.code || !strings.Contains(e.Message, c.msg) {
				t.Fatalf("got %d %s %q, want %d %s containing %q", status, e.Code, e.Message, c.status, c.code, c.msg)
			}
		})
	}
	// Lines with a bad id or an unknown field are refused by line; the
	// good line is stored.
	q := client(t, url, tokSubmit)
	var out wire.SubmitResponse
	body := "{\"id\":\"../../etc/passwd\",\"cmd\":[\"x\"]}\n\n{\"id\":\"ok\",\"cmd\":[\"x\"]}\n{\"id\":\"b\",\"cmd\":[\"x\"],\"corse\":2}\n"
	req, _ := http.NewRequest("POST", url+wire.PathTasks, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tokSubmit)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if out.Accepted != 1 || len(out.Rejected) != 2 || out.Rejected[0].Line != 1 || out.Rejected[1].Line != 4 ||
		!strings.Contains(out.Rejected[1].Reason, `unknown field "corse"`) {
		t.Fatalf("submit report %+v", out)
	}
	st, err := q.Status(bg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 1 || st.Leased+st.Done+st.Failed+st.Flushed+st.Duplicates != 0 {
		t.Fatalf("refused requests stored something: %+v", st)
	}
}

func TestClientTurnsCodesIntoSentinels(t *testing.T) {
	url := testServer(t, Config{MaxBodyBytes: 32 << 10})
	if _, err := client(t, url, "not-a-token-at-all").Status(bg); !errors.Is(err, upstream.ErrUnauthorized) {
		t.Errorf("wrong token: %v", err)
	}
	_, err := client(t, url, tokSubmit).Flush(bg)
	if !errors.Is(err, upstream.ErrForbidden) || !strings.Contains(err.Error(), "needs role admin") {
		t.Errorf("flush as submitter: %v", err)
	}
	big := task.Spec{ID: "big", Cmd: []string{"x"}, Input: strings.Repeat("y", 40<<10)}
	if _, err := client(t, url, tokSubmit).Submit(bg, []task.Spec{big}); !errors.Is(err, upstream.ErrTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	if _, err := client(t, url, tokPilot).Lease(bg, upstream.LeaseRequest{Cluster: "a b", MaxTasks: 1, TTL: time.Second}); !errors.Is(err, upstream.ErrBadRequest) {
		t.Errorf("bad cluster: %v", err)
	}
	// Nothing listens here any more: an outage, after the retries.
	q, _ := upstream.OpenHTTP("http://127.0.0.1:1", upstream.HTTPOptions{Token: tokAdmin, RetryFor: 50 * time.Millisecond, BackoffMin: time.Millisecond})
	if _, err := q.Status(bg); !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("no server: %v", err)
	}
}

func TestPilotRoundTripOverHTTP(t *testing.T) {
	clk := newClock()
	url := testServer(t, Config{Now: clk.Now})
	sub, pa, pb, adm := client(t, url, tokSubmit), client(t, url, tokPilot), client(t, url, tokPilot), client(t, url, tokAdmin)
	in := specs("m", 50)
	in[3].Input = "CCO"
	in[3].Env = map[string]string{"K": "V"}
	rep, err := sub.Submit(bg, in)
	if err != nil || rep.Accepted != 50 {
		t.Fatalf("submit %+v %v", rep, err)
	}
	la, err := pa.Lease(bg, upstream.LeaseRequest{Cluster: "site-a", MaxTasks: 10, TTL: 30 * time.Second})
	if err != nil || len(la) != 10 || la[3].Spec.Input != "CCO" || la[3].Spec.Env["K"] != "V" || la[0].Spec.Cores != 1 {
		t.Fatalf("lease a: %d %v", len(la), err)
	}
	lb, err := pb.Lease(bg, upstream.LeaseRequest{Cluster: "site-b", MaxTasks: 100, TTL: 30 * time.Second})
	if err != nil || len(lb) != 40 {
		t.Fatalf("lease b: %d %v", len(lb), err)
	}
	clk.Advance(time.Minute)
	lost, err := pa.Renew(bg, "site-a", []string{la[0].Spec.ID}, time.Minute)
	if err != nil || len(lost) != 0 {
		// expired but not reaped: still renewable
		t.Fatalf("renew: %v %v", lost, err)
	}
	if err := pb.Release(bg, "site-b", []string{lb[0].Spec.ID}); err != nil {
		t.Fatal(err)
	}
	c, err := pa.Complete(bg, "site-a", []task.Result{done(la[0].Spec.ID), done(la[0].Spec.ID), done("never-submitted")})
	if err != nil || c.Accepted != 1 || len(c.Duplicates) != 1 || len(c.Refused) != 1 {
		t.Fatalf("complete %+v %v", c, err)
	}
	res, cur, err := sub.Results(bg, 0, 10)
	if err != nil || len(res) != 1 || res[0].ID != la[0].Spec.ID || cur != 1 {
		t.Fatalf("results %+v %d %v", res, cur, err)
	}
	st, err := sub.Status(bg)
	if err != nil || st.Done != 1 || st.Duplicates != 1 || st.Pending+st.Leased != 49 {
		t.Fatalf("status %+v %v", st, err)
	}
	fr, err := adm.Flush(bg)
	if err != nil || fr.Pending+fr.Leased != 49 {
		t.Fatalf("flush %+v %v", fr, err)
	}
	req, _ := http.NewRequest("GET", url+wire.PathArchive+"?epoch=1&max=30", nil)
	req.Header.Set("Authorization", "Bearer "+tokSubmit)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var arch wire.ArchiveResponse
	if err := json.NewDecoder(resp.Body).Decode(&arch); err != nil || len(arch.Tasks) != 30 || arch.Next == 0 {
		t.Fatalf("archive page: %d tasks, next %d, %v", len(arch.Tasks), arch.Next, err)
	}
	if status, e := raw(t, "GET", url+wire.PathArchive+"?epoch=7", tokSubmit, ""); status != 400 || !strings.Contains(e.Message, "was not flushed") {
		t.Fatalf("archive of an epoch never flushed: %d %+v", status, e)
	}
}

func TestTokenFileRules(t *testing.T) {
	dir := t.TempDir()
	write := func(body string, mode os.FileMode) string {
		p := filepath.Join(dir, "tok")
		os.Remove(p)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct{ body, want string }{
		{"submit short", "minimum is 16"},
		{"owner 0123456789abcdef", `role "owner"`},
		{"submit 0123456789abcdef a b", "got 4 fields"},
		{"submit 0123456789abcdef\npilot 0123456789abcdef", "already on line 1"},
		{"# nothing\n", "has no tokens"},
	}
	for _, c := range cases {
		if _, err := LoadTokens(write(c.body, 0o600)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.body, err, c.want)
		}
	}
	p := write("admin 0123456789abcdef", 0o640)
	if _, err := LoadTokens(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("group-readable token file: %v", err)
	}
	cfg := Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "d"), TokenFile: p}
	if err := Run(bg, cfg); err == nil || !strings.Contains(err.Error(), "mode 0640") {
		t.Errorf("Run with a group-readable token file: %v", err)
	}
	if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
		t.Errorf("Run refused to start but created its data directory: %v", err)
	}
}

func TestClientSplitsBatchesUnderTheBodyLimit(t *testing.T) {
	url := testServer(t, Config{MaxBodyBytes: 64 << 10})
	opts := upstream.HTTPOptions{Token: tokAdmin, RetryFor: -1, BatchBytes: 48 << 10}
	q, err := upstream.OpenHTTP(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	in := specs("big", 12)
	for i := range in {
		in[i].Input = strings.Repeat("x", 20<<10)
	}
	if rep, err := q.Submit(bg, in); err != nil || rep.Accepted != 12 {
		t.Fatalf("submit of 240 kB through a 64 kB limit: %+v %v", rep, err)
	}
	if _, err := q.Lease(bg, upstream.LeaseRequest{Cluster: "a", MaxTasks: 12, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	res := make([]task.Result, len(in))
	for i, s := range in {
		res[i] = task.Result{ID: s.ID, State: task.StateDone, Value: json.RawMessage(`"` + strings.Repeat("v", 20<<10) + `"`)}
	}
	if rep, err := q.Complete(bg, "a", res); err != nil || rep.Accepted != 12 {
		t.Fatalf("complete of 240 kB through a 64 kB limit: %+v %v", rep, err)
	}
}
