package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
)

// Fault is what the fault proxy does to a request.
type Fault int

// The faults, each either before the request reaches the server (it did
// nothing) or after the server answered (it did the work; the answer is
// lost): a client must treat both alike, and retrying the second must not
// do the work twice.
const (
	Pass    Fault = iota // forward the request and its answer
	Status5              // answer 503 (before) or 502 (after), as a broken gateway does
	Hang                 // hold the request until the client gives up
	Drop                 // close the connection with no answer
)

func (f Fault) String() string {
	switch f {
	case Pass:
		return "pass"
	case Status5:
		return "5xx"
	case Hang:
		return "hang"
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// FaultProxy is an HTTP reverse proxy on 127.0.0.1 in front of a queue
// server. While a fault is set, each request meets it with the set
// probability, before or after reaching the server (a coin toss); every
// choice comes from its seeded source, so a seed replays the choices for
// the same sequence of requests. Safe for concurrent use.
type FaultProxy struct {
	URL string // what clients dial instead of the server

	srv   *http.Server
	proxy *httputil.ReverseProxy
	stop  chan struct{} // closed by Close: ends every hang

	mu     sync.Mutex
	rand   *rand.Rand
	fault  Fault
	rate   float64
	counts map[string]int // "hang after", "5xx before", ...
}

// StartFaultProxy starts a proxy to target (http://HOST:PORT) that passes
// everything until Set says otherwise.
func StartFaultProxy(target string, seed uint64) (*FaultProxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("fault proxy target %q: want http://HOST:PORT", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fault proxy listener: %w", err)
	}
	p := &FaultProxy{URL: "http://" + ln.Addr().String(), proxy: httputil.NewSingleHostReverseProxy(u),
		stop: make(chan struct{}), rand: rand.New(rand.NewPCG(seed, 23)), counts: map[string]int{}}
	p.proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, "fault proxy: the server does not answer: "+err.Error(), http.StatusBadGateway)
	}
	p.srv = &http.Server{Handler: p}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Set makes each request from now on meet f with probability rate (Pass
// turns faults off).
func (p *FaultProxy) Set(f Fault, rate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault, p.rate = f, rate
}

// Counts returns how many requests met each fault, by "FAULT before" and
// "FAULT after", and "pass".
func (p *FaultProxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.counts))
	for k, v := range p.counts {
		out[k] = v
	}
	return out
}

// Close stops the proxy; requests it holds end with no answer.
func (p *FaultProxy) Close() error {
	close(p.stop)
	return p.srv.Close()
}

// choose draws the fate of one request.
func (p *FaultProxy) choose() (Fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, after := Pass, false
	if p.fault != Pass && p.rand.Float64() < p.rate {
		f, after = p.fault, p.rand.IntN(2) == 0
	}
	key := f.String()
	if f != Pass {
		key += map[bool]string{false: " before", true: " after"}[after]
	}
	p.counts[key]++
	return f, after
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, after := p.choose()
	if f == Pass {
		p.proxy.ServeHTTP(w, r)
		return
	}
	if after {
		// The server does the work; its answer goes nowhere.
		p.proxy.ServeHTTP(discard{h: http.Header{}}, r.Clone(context.WithoutCancel(r.Context())))
	}
	switch f {
	case Status5:
		code := http.StatusServiceUnavailable
		if after {
			code = http.StatusBadGateway
		}
		http.Error(w, "fault proxy: injected "+http.StatusText(code), code)
	case Hang:
		select {
		case <-r.Context().Done(): // the client gave up
		case <-p.stop:
		}
	case Drop:
		// net/http closes the connection of a handler that aborts
		// before it wrote anything: the client reads EOF.
		panic(http.ErrAbortHandler)
	}
}

// discard is a ResponseWriter that drops the answer.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
