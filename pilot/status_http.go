package pilot

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pilot-hpc/pilot/coordinator"
)

// observer is the agent's window to the outside: its HTTP server (GET
// /status, GET /metrics, POST /flush), its Prometheus metrics, the
// throughput the leader measures, and the dispatcher gate a flush closes.
// Every agent serves it; only the leader's /status and cluster metrics are
// authoritative, and a follower redirects /status to the leader.
type observer struct {
	a     *agent
	log   *slog.Logger
	m     *metrics
	rate  *rate
	disp  *gatedDispatcher
	token string
	ln    net.Listener
	srv   *http.Server
	quit  chan struct{}
	obs   *raft.Observer
}

// startObserver starts the HTTP server on cfg.HTTP and counts leadership
// changes. The agent's raft node must be open.
func startObserver(a *agent) (*observer, error) {
	o := &observer{a: a, log: a.log, rate: newRate(time.Now()), token: AdminToken(a.key), quit: make(chan struct{})}
	o.m = newMetrics(o)
	o.disp = &gatedDispatcher{Dispatcher: a.disp, o: o}
	addr := a.cfg.HTTP
	if addr == "" {
		addr = net.JoinHostPort(a.cfg.Bind, "0")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("status HTTP listener on %s: %w (pick another with --http)", addr, err)
	}
	o.ln = ln
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", o.serveStatus)
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /flush", o.serveFlush)
	o.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := o.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.log.Error("status HTTP server", "err", err)
		}
	}()

	ch := make(chan raft.Observation, 16)
	o.obs = raft.NewObserver(ch, false, func(ob *raft.Observation) bool {
		_, ok := ob.Data.(raft.LeaderObservation)
		return ok
	})
	a.raft.Raft().RegisterObserver(o.obs)
	go func() {
		for {
			select {
			case <-o.quit:
				return
			case <-ch:
				o.m.leaderChanges.Inc()
			}
		}
	}()
	o.log.Info("status HTTP", "addr", o.Addr())
	return o, nil
}

// Addr is the HTTP server's address.
func (o *observer) Addr() string { return o.ln.Addr().String() }

// leading runs while this node leads: it publishes the leader record and
// samples the cluster's cores for the throughput, until ctx ends.
func (o *observer) leading(ctx context.Context) {
	o.m.leading.Set(1)
	o.rate.reset(time.Now())
	rec := LeaderRecord{Node: o.a.cfg.Name, HTTP: o.Addr(), Pilot: o.a.cfg.Pilot, Since: time.Now().UTC()}
	if err := writeLeaderRecord(o.a.cfg.StateDir, rec); err != nil {
		o.log.Warn("cannot publish the leader's address; 'pilot status' will not find the cluster", "err", err)
	}
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			busy, total := busyCores(o.a.raft.Ledger().View())
			o.rate.cores(time.Now(), busy, total)
			select {
			case <-ctx.Done():
				o.m.leading.Set(0)
				return
			case <-tick.C:
			}
		}
	}()
}

func (o *observer) close() {
	close(o.quit)
	o.a.raft.Raft().DeregisterObserver(o.obs)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = o.srv.Shutdown(ctx)
	removeLeaderRecord(o.a.cfg.StateDir, o.a.cfg.Name)
}

func (o *observer) serveStatus(w http.ResponseWriter, r *http.Request) {
	l := o.a.leading()
	if l == nil {
		o.notLeader(w, r)
		return
	}
	now := time.Now()
	st := clusterStatus(o.a.raft.Ledger().View(), now)
	st.Leader, st.HTTP = o.a.cfg.Name, o.Addr()
	for k, v := range l.Waiting() {
		st.Waiting[string(k)] = v
	}
	st.Throughput = o.rate.snapshot(now)
	if err := l.UpstreamError(); err != nil {
		st.UpstreamError = err.Error()
	}
	writeJSON(w, http.StatusOK, st)
}

// notLeader redirects to the leader's HTTP address when the leader record
// names the Raft leader, and otherwise says who leads.
func (o *observer) notLeader(w http.ResponseWriter, r *http.Request) {
	id, _ := o.a.raft.Leader()
	if rec, err := readLeaderRecord(o.a.cfg.StateDir); err == nil && id != "" && rec.Node == id && r.Method == http.MethodGet {
		http.Redirect(w, r, "http://"+rec.HTTP+r.URL.Path, http.StatusTemporaryRedirect)
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, httpError{Code: codeNotLeader, Error: fmt.Sprintf("node %s is not the leader", o.a.cfg.Name), Leader: id})
}

func (o *observer) serveFlush(w http.ResponseWriter, r *http.Request) {
	if !o.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, httpError{Code: codeUnauthorized, Error: "flush needs 'Authorization: Bearer TOKEN' with the token derived from the campaign key (pilot flush does this)"})
		return
	}
	var req FlushRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, httpError{Code: codeBadRequest, Error: fmt.Sprintf("flush request body: %v; send {\"cancel_running\": false}", err)})
		return
	}
	rep, err := o.flush(r.Context(), req.CancelRunning)
	switch {
	case errors.Is(err, coordinator.ErrNotLeader):
		o.notLeader(w, r)
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, httpError{Code: codeFailed, Error: err.Error()})
	default:
		writeJSON(w, http.StatusOK, rep)
	}
}

// authorized compares the bearer token with the campaign's admin token in
// constant time.
func (o *observer) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(o.token)) == 1
}

// httpError is the body of every error answer of the status server.
type httpError struct {
	Code   string `json:"code"`
	Error  string `json:"error"`
	Leader string `json:"leader,omitempty"`
}

// Error codes of the status server: stable.
const (
	codeNotLeader    = "not-leader"
	codeUnauthorized = "unauthorized"
	codeBadRequest   = "bad-request"
	codeFailed       = "failed"
)

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
