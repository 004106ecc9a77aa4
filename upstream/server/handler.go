package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/pilot-hpc/pilot/upstream"
	"github.com/pilot-hpc/pilot/upstream/server/wire"
)

// Server is the HTTP API in front of a Store: tokens, roles, body limits,
// strict decoding and the error envelope.
type Server struct {
	store   *Store
	tokens  *Tokens
	maxBody int64
	log     *slog.Logger
	routes  map[string]route
	// submits bounds the submit bodies in memory at once (each up to
	// maxBody, plus its parsed tasks).
	submits chan struct{}
}

// concurrentSubmits is how many submit bodies are read and parsed at once;
// more wait their turn, so memory stays bounded however many clients send.
const concurrentSubmits = 4

type route struct {
	method string
	act    action
	h      func(w http.ResponseWriter, r *http.Request) error
}

// New returns the API handler over store. cfg supplies the body limit and
// the logger (zero values take defaults).
func New(store *Store, tokens *Tokens, cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{store: store, tokens: tokens, maxBody: cfg.MaxBodyBytes, log: cfg.Logger,
		submits: make(chan struct{}, concurrentSubmits)}
	s.routes = map[string]route{
		wire.PathTasks:    {http.MethodPost, actSubmit, s.submit},
		wire.PathStatus:   {http.MethodGet, actRead, s.status},
		wire.PathResults:  {http.MethodGet, actRead, s.results},
		wire.PathFlush:    {http.MethodPost, actFlush, s.flush},
		wire.PathRetry:    {http.MethodPost, actFlush, s.retry},
		wire.PathLease:    {http.MethodPost, actLease, s.lease},
		wire.PathRenew:    {http.MethodPost, actLease, s.renew},
		wire.PathComplete: {http.MethodPost, actLease, s.complete},
		wire.PathRelease:  {http.MethodPost, actLease, s.release},
		wire.PathArchive:  {http.MethodGet, actRead, s.archive},
	}
	return s
}

// apiError is a refusal with its status and stable code.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func refuse(status int, code, format string, a ...any) error {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, a...)}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := s.routes[r.URL.Path]
	if !ok {
		s.fail(w, r, refuse(http.StatusNotFound, wire.CodeNotFound, "no endpoint %s; see API.md for the paths", r.URL.Path))
		return
	}
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		s.fail(w, r, refuse(http.StatusMethodNotAllowed, wire.CodeMethodNotAllowed, "%s takes %s, not %s", r.URL.Path, rt.method, r.Method))
		return
	}
	if err := s.authorize(r, rt.act); err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pilot"`)
		s.fail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
	if err := rt.h(w, r); err != nil {
		s.fail(w, r, err)
	}
}

func (s *Server) authorize(r *http.Request, a action) error {
	what := r.Method + " " + r.URL.Path
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if h == "" || !ok {
		return refuse(http.StatusUnauthorized, wire.CodeUnauthorized, "no token: send the header 'Authorization: Bearer TOKEN'; %s needs %s", what, needs(a))
	}
	e, ok := s.tokens.lookup(strings.TrimSpace(tok))
	if !ok {
		return refuse(http.StatusUnauthorized, wire.CodeUnauthorized, "unknown token; %s needs a token of %s from the server's token file", what, needs(a))
	}
	if !e.role.may(a) {
		return refuse(http.StatusForbidden, wire.CodeForbidden, "token %q has role %s; %s needs %s", e.name, e.role, what, needs(a))
	}
	return nil
}

// fail writes err as the error envelope.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &mbe):
		ae = &apiError{http.StatusRequestEntityTooLarge, wire.CodeTooLarge,
			fmt.Sprintf("request body exceeds the server's limit of %d bytes; send it in smaller batches (the Go client splits submissions)", mbe.Limit)}
	case errors.Is(err, upstream.ErrBadRequest):
		ae = &apiError{http.StatusBadRequest, wire.CodeBadRequest, err.Error()}
	case errors.Is(err, upstream.ErrUnavailable):
		ae = &apiError{http.StatusServiceUnavailable, wire.CodeUnavailable, err.Error() + "; retry later"}
	default:
		ae = &apiError{http.StatusInternalServerError, wire.CodeInternal, err.Error()}
	}
	level := slog.LevelInfo
	if ae.status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request refused", "method", r.Method, "path", r.URL.Path, "status", ae.status, "code", ae.code, "err", ae.msg)
	writeJSON(w, ae.status, wire.ErrorBody{Error: wire.ErrorDetail{Code: ae.code, Message: ae.msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away; nothing to do
}

// decode reads a JSON body strictly: unknown fields and trailing text are
// refused.
func decode(r *http.Request, v any) error {
	what := r.Method + " " + r.URL.Path
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return refuse(http.StatusBadRequest, wire.CodeBadRequest, "body of %s: %s", what, jsonReason(err))
	}
	if dec.More() {
		return refuse(http.StatusBadRequest, wire.CodeBadRequest, "body of %s: text after the JSON object", what)
	}
	return nil
}

func jsonReason(err error) string {
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + f + " (see API.md for the fields of this request)"
	}
	if msg == "EOF" {
		return "empty body; send a JSON object"
	}
	return strings.TrimPrefix(msg, "json: ")
}
