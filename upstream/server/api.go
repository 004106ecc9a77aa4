package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/pilot-hpc/pilot/upstream"
	"github.com/pilot-hpc/pilot/upstream/server/wire"
)

// MaxResultsWait caps how long a results request may be held open.
const MaxResultsWait = 60 * time.Second

func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	st, err := s.store.Status(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) results(w http.ResponseWriter, r *http.Request) error {
	var from, max int64
	var wait float64
	err := params(r, "results takes from, max and wait_s", func(k, v string) (err error) {
		switch k {
		case "from":
			from, err = nonNegative(v)
		case "max":
			max, err = nonNegative(v)
		case "wait_s":
			wait, err = strconv.ParseFloat(v, 64)
			if err == nil && (wait < 0 || wait > MaxResultsWait.Seconds()) {
				err = fmt.Errorf("must be 0 to %g", MaxResultsWait.Seconds())
			}
		default:
			return errUnknownParam
		}
		return err
	})
	if err != nil {
		return err
	}
	raw, next, err := s.store.ResultsRaw(r.Context(), upstream.Cursor(from), int(max), time.Duration(wait*float64(time.Second)))
	if err != nil {
		return err
	}
	if raw == nil {
		raw = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, wire.ResultsResponse{Results: raw, Next: int64(next)})
	return nil
}

func (s *Server) flush(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	rep, err := s.store.Flush(r.Context())
	if err != nil {
		return err
	}
	s.log.Info("queue flushed", "pending", rep.Pending, "leased", rep.Leased, "archive", rep.Archive)
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) lease(w http.ResponseWriter, r *http.Request) error {
	var in wire.LeaseRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	req := upstream.LeaseRequest{Cluster: in.Cluster, MaxTasks: in.MaxTasks, MaxCores: in.MaxCores, TTL: seconds(in.TTLS)}
	if err := checkLease(req); err != nil {
		return err
	}
	out := wire.LeaseResponse{Leases: []wire.Leased{}}
	err := s.store.leaseRaw(r.Context(), req, func(lease string, line []byte) error {
		out.Leases = append(out.Leases, wire.Leased{Lease: lease, Task: append(json.RawMessage(nil), line...)})
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request) error {
	var in wire.RenewRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	lost, err := s.store.Renew(r.Context(), in.Cluster, in.IDs, seconds(in.TTLS))
	if err != nil {
		return err
	}
	if lost == nil {
		lost = []string{}
	}
	writeJSON(w, http.StatusOK, wire.RenewResponse{Lost: lost})
	return nil
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request) error {
	var in wire.CompleteRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	rep, err := s.store.Complete(r.Context(), in.Cluster, in.Results)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.CompleteResponse{Accepted: rep.Accepted, Duplicates: rep.Duplicates, Refused: rep.Refused})
	return nil
}

func (s *Server) release(w http.ResponseWriter, r *http.Request) error {
	var in wire.ReleaseRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	n, err := s.store.release(r.Context(), in.Cluster, in.IDs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.ReleaseResponse{Released: n})
	return nil
}

// archive lists the flushes, or with epoch= reads a page of the tasks one
// archived.
func (s *Server) archive(w http.ResponseWriter, r *http.Request) error {
	var epoch, from, max int64
	err := params(r, "archive takes epoch, from and max", func(k, v string) (err error) {
		switch k {
		case "epoch":
			epoch, err = nonNegative(v)
		case "from":
			from, err = nonNegative(v)
		case "max":
			max, err = nonNegative(v)
		default:
			return errUnknownParam
		}
		return err
	})
	if err != nil {
		return err
	}
	if epoch == 0 {
		fl, err := s.store.Flushes()
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"flushes": fl})
		return nil
	}
	tasks, next, err := s.store.Archive(uint64(epoch), uint64(from), int(max))
	if err != nil {
		return err
	}
	if tasks == nil {
		tasks = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, wire.ArchiveResponse{Tasks: tasks, Next: next})
	return nil
}

var errUnknownParam = errors.New("unknown parameter")

// params hands each query parameter to set and turns its errors into
// refusals that name the parameter.
func params(r *http.Request, takes string, set func(k, v string) error) error {
	for k, v := range r.URL.Query() {
		err := set(k, v[0])
		if errors.Is(err, errUnknownParam) {
			return refuse(http.StatusBadRequest, wire.CodeBadRequest, "unknown parameter %q; %s", k, takes)
		}
		if err != nil {
			return refuse(http.StatusBadRequest, wire.CodeBadRequest, "parameter %s=%q: %v", k, v[0], err)
		}
	}
	return nil
}

func nonNegative(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err == nil && n < 0 {
		err = errors.New("must not be negative")
	}
	return n, err
}

func noQuery(r *http.Request) error {
	if r.URL.RawQuery != "" {
		return refuse(http.StatusBadRequest, wire.CodeBadRequest, "%s takes no parameters, got %q", r.URL.Path, r.URL.RawQuery)
	}
	return nil
}

func seconds(s float64) time.Duration {
	if s > MaxLeaseTTL.Seconds()*2 {
		return MaxLeaseTTL * 2 // refused by checkTTL; avoids overflow
	}
	return time.Duration(s * float64(time.Second))
}
