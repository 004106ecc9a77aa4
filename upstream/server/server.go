package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Config is what 'pilot serve' takes.
type Config struct {
	Listen    string // host:port; port 0 picks a free one
	DataDir   string // holds queue.db
	TokenFile string // see LoadTokens for its format
	// TLSCert and TLSKey, both or neither: serve https.
	TLSCert, TLSKey string
	// MaxBodyBytes caps one request body (413 beyond). Default 64 MiB.
	MaxBodyBytes int64
	// ReapEvery is how often expired leases return to pending even when
	// nobody leases. Default 1s.
	ReapEvery time.Duration
	Logger    *slog.Logger

	// OnListen, when set, is called with the bound address once the
	// server accepts connections (tests and supervisors use it).
	OnListen func(addr string)
	// Now is the clock of lease expiry; nil is time.Now. Test hook.
	Now func() time.Time
}

// DefaultMaxBodyBytes is the default cap of one request body.
const DefaultMaxBodyBytes = 64 << 20

func (c *Config) defaults() error {
	if c.Listen == "" {
		return errors.New("--listen is required (e.g. 127.0.0.1:8470)")
	}
	if c.DataDir == "" {
		return errors.New("--data is required: the directory that holds queue.db")
	}
	if c.TokenFile == "" {
		return errors.New("--token-file is required: lines of \"ROLE TOKEN [NAME]\", mode 0600")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both or neither")
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.ReapEvery <= 0 {
		c.ReapEvery = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Run serves the queue until ctx ends, then shuts down gracefully (requests
// in flight finish; every acknowledged write is already on disk).
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	tokens, err := LoadTokens(cfg.TokenFile)
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("--tls-cert %s / --tls-key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	store, err := OpenStore(cfg.DataDir, cfg.Now)
	if err != nil {
		return err
	}
	defer store.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{
		Handler:           New(store, tokens, cfg),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // a body trickling in cannot hold a submit slot for ever
		IdleTimeout:       2 * time.Minute,
		TLSConfig:         tlsConfig,
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go reapLoop(ctx, store, cfg)
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	cfg.Logger.Info("queue server listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String(), "data", store.Path())
	if cfg.OnListen != nil {
		cfg.OnListen(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	store.StopWaiting() // long polls answer now
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	cfg.Logger.Info("queue server stopped", "addr", ln.Addr().String())
	return nil
}

func reapLoop(ctx context.Context, store *Store, cfg Config) {
	t := time.NewTicker(cfg.ReapEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := store.Reap(ctx); err != nil && ctx.Err() == nil {
				cfg.Logger.Warn("returning expired leases failed", "err", err)
			}
		}
	}
}
