package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream/server/wire"
)

var _ Queue = (*HTTPQueue)(nil)

// ResultsWaiter is a Queue that can hold a Results call open until a result
// arrives or wait passes, so a follower needs no polling.
type ResultsWaiter interface {
	ResultsWait(ctx context.Context, from Cursor, max int, wait time.Duration) ([]task.Result, Cursor, error)
}

// Submit validates specs locally, then sends the valid ones in batches of
// at most opts.BatchTasks tasks and opts.BatchBytes bytes, as msgpack
// arrays (the server decodes them several times faster than JSONL). Each batch is
// stored atomically by the server; across batches a failed call may have
// stored the earlier ones. Resubmitting identical tasks is harmless (the
// server counts an identical task it already has as accepted), so the
// cure for an error is to call Submit again with the same specs.
func (q *HTTPQueue) Submit(ctx context.Context, specs []task.Spec) (SubmitReport, error) {
	var rep SubmitReport
	var body bytes.Buffer
	var index []int // batch element -> index in specs
	send := func() error {
		if len(index) == 0 {
			return nil
		}
		var msg bytes.Buffer
		msg.Grow(body.Len() + 5)
		if err := msgpack.NewEncoder(&msg).EncodeArrayLen(len(index)); err != nil {
			return err
		}
		msg.Write(body.Bytes())
		var out wire.SubmitResponse
		if err := q.call(ctx, http.MethodPost, wire.PathTasks, nil, wire.ContentTypeMsgpack, msg.Bytes(), &out); err != nil {
			return err
		}
		rep.Accepted += out.Accepted
		for _, r := range out.Rejected {
			rj := Rejection{ID: r.ID, Reason: r.Reason, Index: -1}
			if r.Line >= 1 && r.Line <= len(index) {
				rj.Index = index[r.Line-1]
			}
			rep.Rejected = append(rep.Rejected, rj)
		}
		if q.opts.Progress != nil {
			q.opts.Progress(index[len(index)-1]+1, len(specs))
		}
		body.Reset()
		index = index[:0]
		return nil
	}
	for i := range specs {
		s := specs[i]
		if err := s.Validate(); err != nil {
			rep.Rejected = append(rep.Rejected, Rejection{Index: i, ID: s.ID, Reason: err.Error()})
			continue
		}
		enc, err := msgpack.Marshal(&s)
		if err != nil {
			rep.Rejected = append(rep.Rejected, Rejection{Index: i, ID: s.ID, Reason: err.Error()})
			continue
		}
		if len(index) > 0 && (len(index) >= q.opts.BatchTasks || body.Len()+len(enc)+5 > q.opts.BatchBytes) {
			if err := send(); err != nil {
				return rep, err
			}
		}
		body.Write(enc)
		index = append(index, i)
	}
	return rep, send()
}

// Lease asks the server for a window of tasks for req.Cluster.
func (q *HTTPQueue) Lease(ctx context.Context, req LeaseRequest) ([]Leased, error) {
	in := wire.LeaseRequest{Cluster: req.Cluster, MaxTasks: req.MaxTasks, MaxCores: req.MaxCores, TTLS: req.TTL.Seconds()}
	var out wire.LeaseResponse
	if err := q.postJSON(ctx, wire.PathLease, in, &out); err != nil {
		return nil, err
	}
	leased := make([]Leased, 0, len(out.Leases))
	for _, l := range out.Leases {
		spec, err := task.Parse(l.Task)
		if err != nil {
			return leased, fmt.Errorf("lease %s from %s: the server sent a task that does not parse: %w", l.Lease, q.base.Redacted(), err)
		}
		leased = append(leased, Leased{Spec: spec, Lease: l.Lease})
	}
	return leased, nil
}

// Renew extends leases and returns the ids the cluster no longer holds.
func (q *HTTPQueue) Renew(ctx context.Context, cluster string, ids []string, ttl time.Duration) ([]string, error) {
	var out wire.RenewResponse
	err := q.postJSON(ctx, wire.PathRenew, wire.RenewRequest{Cluster: cluster, IDs: ids, TTLS: ttl.Seconds()}, &out)
	return out.Lost, err
}

// Complete sends final results in batches of at most opts.BatchTasks
// results and opts.BatchBytes bytes.
func (q *HTTPQueue) Complete(ctx context.Context, cluster string, results []task.Result) (CompleteReport, error) {
	var rep CompleteReport
	head, err := json.Marshal(cluster)
	if err != nil {
		return rep, err
	}
	var body bytes.Buffer
	n := 0
	send := func() error {
		if n == 0 {
			return nil
		}
		body.WriteString("]}")
		var out wire.CompleteResponse
		if err := q.call(ctx, http.MethodPost, wire.PathComplete, nil, "application/json", body.Bytes(), &out); err != nil {
			return err
		}
		rep.Accepted += out.Accepted
		rep.Duplicates = append(rep.Duplicates, out.Duplicates...)
		rep.Refused = append(rep.Refused, out.Refused...)
		body.Reset()
		n = 0
		return nil
	}
	for i := range results {
		line, err := json.Marshal(&results[i])
		if err != nil {
			return rep, fmt.Errorf("result %s: %w", results[i].ID, err)
		}
		if n > 0 && (n >= q.opts.BatchTasks || body.Len()+len(line)+2 > q.opts.BatchBytes) {
			if err := send(); err != nil {
				return rep, err
			}
		}
		if n == 0 {
			body.WriteString(`{"cluster":`)
			body.Write(head)
			body.WriteString(`,"results":[`)
		} else {
			body.WriteByte(',')
		}
		body.Write(line)
		n++
	}
	return rep, send()
}

// Release returns leased tasks to pending.
func (q *HTTPQueue) Release(ctx context.Context, cluster string, ids []string) error {
	var out wire.ReleaseResponse
	return q.postJSON(ctx, wire.PathRelease, wire.ReleaseRequest{Cluster: cluster, IDs: ids}, &out)
}

// Status counts the server's tasks by state.
func (q *HTTPQueue) Status(ctx context.Context) (Status, error) {
	var out Status
	err := q.call(ctx, http.MethodGet, wire.PathStatus, nil, "", nil, &out)
	return out, err
}

// Results reads one page of results from cursor on.
func (q *HTTPQueue) Results(ctx context.Context, from Cursor, max int) ([]task.Result, Cursor, error) {
	return q.ResultsWait(ctx, from, max, 0)
}

// ResultsWait is Results, held open by the server for up to wait when no
// result is there yet.
func (q *HTTPQueue) ResultsWait(ctx context.Context, from Cursor, max int, wait time.Duration) ([]task.Result, Cursor, error) {
	v := url.Values{"from": {strconv.FormatInt(int64(from), 10)}}
	if max > 0 {
		v.Set("max", strconv.Itoa(max))
	}
	if wait > 0 {
		v.Set("wait_s", strconv.FormatFloat(wait.Seconds(), 'f', 3, 64))
	}
	var out wire.ResultsResponse
	if err := q.call(ctx, http.MethodGet, wire.PathResults, v, "", nil, &out); err != nil {
		return nil, from, err
	}
	res := make([]task.Result, len(out.Results))
	for i, raw := range out.Results {
		if err := json.Unmarshal(raw, &res[i]); err != nil {
			return nil, from, fmt.Errorf("results from %s: record %d does not decode: %w", q.base.Redacted(), i, err)
		}
	}
	return res, Cursor(out.Next), nil
}

// Flush archives every pending and leased task on the server.
func (q *HTTPQueue) Flush(ctx context.Context) (FlushReport, error) {
	var out FlushReport
	err := q.call(ctx, http.MethodPost, wire.PathFlush, nil, "", nil, &out)
	return out, err
}

func (q *HTTPQueue) postJSON(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encoding %s request: %w", path, err)
	}
	return q.call(ctx, http.MethodPost, path, nil, "application/json", body, out)
}
