package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pilot-hpc/pilot/upstream/server/wire"
)

// HTTPOptions configures the client of a queue server. Zero values take
// the defaults named on each field.
type HTTPOptions struct {
	// Token is sent as "Authorization: Bearer TOKEN". Empty: $PILOT_TOKEN,
	// else the first line of the file named by $PILOT_TOKEN_FILE.
	Token string
	// CAFile is a PEM bundle to trust for https (a self-signed server);
	// empty: $PILOT_CA_FILE, else the system roots.
	CAFile string
	// Timeout bounds one HTTP attempt. Default 2 minutes.
	Timeout time.Duration
	// RetryFor bounds how long one call keeps retrying an outage (connection
	// refused, timeout, 5xx) before it returns an error wrapping
	// ErrUnavailable. Default 1 minute; negative: never retry.
	RetryFor time.Duration
	// BackoffMin and BackoffMax bound the exponential backoff between
	// retries (full jitter). Defaults 100ms and 5s.
	BackoffMin, BackoffMax time.Duration
	// BatchTasks and BatchBytes cap one submit request; Submit splits
	// larger calls. Defaults 5000 tasks and 8 MiB.
	BatchTasks int
	BatchBytes int
	// Progress, when set, is called after each acknowledged submit batch
	// with the tasks sent so far and the total of the call.
	Progress func(sent, total int)
	// Logger receives one line per retry. Default slog.Default().
	Logger *slog.Logger
}

func (o *HTTPOptions) defaults() {
	if o.Token == "" {
		o.Token = os.Getenv("PILOT_TOKEN")
	}
	if o.CAFile == "" {
		o.CAFile = os.Getenv("PILOT_CA_FILE")
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.RetryFor == 0 {
		o.RetryFor = time.Minute
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 100 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Second
	}
	if o.BatchTasks <= 0 {
		o.BatchTasks = 5000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 8 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// HTTPQueue is the Queue of a queue server ('pilot serve') at a URL.
type HTTPQueue struct {
	base *url.URL
	opts HTTPOptions
	hc   *http.Client
}

// OpenHTTP returns the client of the queue server at rawURL (http:// or
// https://). It does not contact the server; the first call does.
func OpenHTTP(rawURL string, opts HTTPOptions) (*HTTPQueue, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("queue URL %q: want http://HOST:PORT or https://HOST:PORT", rawURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	opts.defaults()
	if opts.Token == "" {
		if f := os.Getenv("PILOT_TOKEN_FILE"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("reading the token from $PILOT_TOKEN_FILE: %w", err)
			}
			opts.Token = strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
		}
	}
	if opts.Token == "" {
		return nil, fmt.Errorf("queue %s: no token; set $PILOT_TOKEN (or $PILOT_TOKEN_FILE) to a token from the server's token file", u.Redacted())
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", opts.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &HTTPQueue{base: u, opts: opts, hc: &http.Client{Transport: tr}}, nil
}

// Close releases idle connections.
func (q *HTTPQueue) Close() error {
	q.hc.CloseIdleConnections()
	return nil
}

// call sends one request and decodes the JSON answer into out, retrying
// outages with capped exponential backoff and full jitter for at most
// opts.RetryFor. A request the server refused (4xx) is never retried.
func (q *HTTPQueue) call(ctx context.Context, method, path string, query url.Values, contentType string, body []byte, out any) error {
	u := *q.base
	u.Path += path
	u.RawQuery = query.Encode()
	start := time.Now()
	for attempt := 0; ; attempt++ {
		err := q.once(ctx, method, u.String(), contentType, body, out)
		if err == nil || !errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			return err
		}
		if q.opts.RetryFor < 0 || time.Since(start) > q.opts.RetryFor {
			return fmt.Errorf("%w (gave up after %d attempts in %s)", err, attempt+1, time.Since(start).Round(time.Millisecond))
		}
		wait := q.backoff(attempt)
		q.opts.Logger.Warn("queue server unavailable, retrying", "url", u.Redacted(), "attempt", attempt+1, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (%v)", err, ctx.Err())
		case <-t.C:
		}
	}
}

func (q *HTTPQueue) backoff(attempt int) time.Duration {
	d := q.opts.BackoffMin << min(attempt, 30)
	if d <= 0 || d > q.opts.BackoffMax {
		d = q.opts.BackoffMax
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

func (q *HTTPQueue) once(ctx context.Context, method, u, contentType string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, q.opts.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("building request %s %s: %w", method, u, err)
	}
	req.Header.Set("Authorization", "Bearer "+q.opts.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := q.hc.Do(req)
	var untrusted *tls.CertificateVerificationError
	if errors.As(err, &untrusted) {
		return fmt.Errorf("%s %s: the server's certificate is not trusted (%v); give its CA with $PILOT_CA_FILE (HTTPOptions.CAFile)", method, u, untrusted.Err)
	}
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrUnavailable, method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%w: %s %s: reading the answer: %v", ErrUnavailable, method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		var env wire.ErrorBody
		if json.Unmarshal(data, &env) != nil || env.Error.Code == "" {
			env.Error = wire.ErrorDetail{Message: fmt.Sprintf("HTTP %d from %s %s", resp.StatusCode, method, u)}
			if resp.StatusCode == http.StatusTooManyRequests {
				env.Error.Code = wire.CodeUnavailable
			}
		}
		return codeError(resp.StatusCode, env.Error)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the server's answer is not the expected JSON (%v); is %s a pilot queue server?", method, u, err, q.base.Redacted())
	}
	return nil
}
