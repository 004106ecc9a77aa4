package upstream

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// flakyServer answers the first fail requests with answer(), then 200 with
// an empty status; it counts requests.
func flakyServer(t *testing.T, fail int32, answer func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("token not sent: %q", r.Header.Get("Authorization"))
		}
		if n.Add(1) <= fail {
			answer(w, r)
			return
		}
		w.Write([]byte(`{"pending":3}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func httpOpts() HTTPOptions {
	return HTTPOptions{Token: "tok", BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond,
		RetryFor: 10 * time.Second, Logger: slog.New(slog.DiscardHandler)}
}

func TestHTTPRetriesOutagesNotRefusals(t *testing.T) {
	unavailable := func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":{"code":"unavailable","message":"disk full"}}`))
	}
	srv, n := flakyServer(t, 3, unavailable)
	q, err := OpenHTTP(srv.URL, httpOpts())
	if err != nil {
		t.Fatal(err)
	}
	st, err := q.Status(context.Background())
	if err != nil || st.Pending != 3 || n.Load() != 4 {
		t.Fatalf("after 3 outages: %+v %v, %d requests", st, err, n.Load())
	}

	forbidden := func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"error":{"code":"forbidden","message":"needs role admin"}}`))
	}
	srv, n = flakyServer(t, 3, forbidden)
	q, _ = OpenHTTP(srv.URL, httpOpts())
	if _, err := q.Status(context.Background()); !errors.Is(err, ErrForbidden) || errors.Is(err, ErrUnavailable) || n.Load() != 1 {
		t.Fatalf("refusal: %v after %d requests; want ErrForbidden at once", err, n.Load())
	}

	// A proxy's 502 without an envelope is an outage too.
	badGateway := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }
	srv, n = flakyServer(t, 100, badGateway)
	o := httpOpts()
	o.RetryFor = 30 * time.Millisecond
	q, _ = OpenHTTP(srv.URL, o)
	if _, err := q.Status(context.Background()); !errors.Is(err, ErrUnavailable) || n.Load() < 2 {
		t.Fatalf("persistent 502: %v after %d requests; want ErrUnavailable after retries", err, n.Load())
	}
}

func TestHTTPRetriesTimeouts(t *testing.T) {
	hang := func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	srv, n := flakyServer(t, 1, hang)
	o := httpOpts()
	o.Timeout = 50 * time.Millisecond
	q, _ := OpenHTTP(srv.URL, o)
	if st, err := q.Status(context.Background()); err != nil || st.Pending != 3 || n.Load() != 2 {
		t.Fatalf("after a timeout: %+v %v, %d requests", st, err, n.Load())
	}
}

func TestHTTPBackoffIsCappedAndJittered(t *testing.T) {
	q, _ := OpenHTTP("http://127.0.0.1:1", HTTPOptions{Token: "tok", BackoffMin: 10 * time.Millisecond, BackoffMax: 80 * time.Millisecond})
	seen := map[time.Duration]bool{}
	for attempt := 0; attempt < 64; attempt++ {
		d := q.backoff(attempt)
		limit := min(10*time.Millisecond<<min(attempt, 30), 80*time.Millisecond)
		if d <= 0 || d > limit {
			t.Fatalf("attempt %d: backoff %s outside (0, %s]", attempt, d, limit)
		}
		seen[d] = true
	}
	if len(seen) < 32 {
		t.Fatalf("only %d distinct waits in 64: no jitter", len(seen))
	}
}

func TestOpenPicksTheKind(t *testing.T) {
	if _, err := Open("ftp://x/y", Options{}); err == nil {
		t.Error("ftp:// accepted")
	}
	if _, err := Open("http://", Options{HTTP: HTTPOptions{Token: "t"}}); err == nil {
		t.Error("URL without a host accepted")
	}
	t.Setenv("PILOT_TOKEN", "")
	t.Setenv("PILOT_TOKEN_FILE", "")
	if _, err := Open("http://127.0.0.1:1", Options{}); err == nil {
		t.Error("no token accepted")
	}
	t.Setenv("PILOT_TOKEN", "from-env")
	q, err := Open("https://127.0.0.1:1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if hq, ok := q.(*HTTPQueue); !ok || hq.opts.Token != "from-env" {
		t.Fatalf("Open gave %T", q)
	}
	if _, err := Open(t.TempDir()+"/missing.jsonl", Options{}); err == nil {
		t.Error("a missing queue file opened without Create")
	}
	fq, err := Open(t.TempDir()+"/q.jsonl", Options{File: FileOptions{Create: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer fq.Close()
	if _, ok := fq.(*FileQueue); !ok {
		t.Fatalf("a path gave %T", fq)
	}
}
