package chaos

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestFaultProxy sends requests through the proxy to a real server on
// 127.0.0.1 with each fault set for every request, and checks what the
// client sees and whether the server did the work.
func TestFaultProxy(t *testing.T) {
	var hits atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(backend.Close)
	p, err := StartFaultProxy(backend.URL, 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	client := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func() (int, error) {
		resp, err := client.Get(p.URL + "/x")
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}

	if code, err := get(); err != nil || code != 200 || hits.Load() != 1 {
		t.Fatalf("pass: status %d, err %v, server hits %d; want 200, nil, 1", code, err, hits.Load())
	}
	const n = 16 // enough that both sides of the coin come up (seeded: they do)
	for _, f := range []Fault{Status5, Hang, Drop} {
		p.Set(f, 1)
		before := hits.Load()
		for range n {
			code, err := get()
			switch f {
			case Status5:
				if err != nil || (code != 502 && code != 503) {
					t.Errorf("5xx: status %d, err %v; want 502 or 503", code, err)
				}
			default:
				if err == nil {
					t.Errorf("%s: the client got status %d, want an error", f, code)
				}
			}
		}
		c := p.Counts()
		if c[f.String()+" before"]+c[f.String()+" after"] != n || c[f.String()+" before"] == 0 || c[f.String()+" after"] == 0 {
			t.Errorf("%s: counts %v; want %d requests, some before and some after the server", f, c, n)
		}
		if got := hits.Load() - before; f != Hang && got != int64(c[f.String()+" after"]) {
			t.Errorf("%s: the server did %d requests, want one per fault after it (%d)", f, got, c[f.String()+" after"])
		}
	}
	p.Set(Pass, 0)
	if code, err := get(); err != nil || code != 200 {
		t.Fatalf("pass again: status %d, err %v", code, err)
	}
}
