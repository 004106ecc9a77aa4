package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream/server/wire"
)

// fuzzServer is the API handler over a fresh store, with an admin token.
func fuzzServer(f *testing.F) (*Server, *Store) {
	dir := f.TempDir()
	st, err := OpenStore(dir, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	tok, err := LoadTokens(writeTokens(f, dir))
	if err != nil {
		f.Fatal(err)
	}
	return New(st, tok, Config{MaxBodyBytes: 1 << 20}), st
}

func post(h http.Handler, path, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tokAdmin)
	req.Header.Set("Content-Type", contentType)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func snapshot(t *testing.T, st *Store) counters {
	var c counters
	if err := st.view(func(x *txn) error { c = x.c; return nil }); err != nil {
		t.Fatal(err)
	}
	return c
}

// checkAnswer: never a 5xx; a refusal has the envelope and changed nothing.
func checkAnswer(t *testing.T, st *Store, w *httptest.ResponseRecorder, before counters) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if w.Code != http.StatusOK {
		var env wire.ErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Error.Code == "" {
			t.Fatalf("status %d without an error envelope: %s", w.Code, w.Body)
		}
		if after := snapshot(t, st); after != before {
			t.Fatalf("refused request changed the store: %+v -> %+v", before, after)
		}
	}
	checkInvariants(t, st)
}

// FuzzSubmitBody feeds arbitrary submit bodies, as JSONL and as msgpack.
func FuzzSubmitBody(f *testing.F) {
	h, st := fuzzServer(f)
	f.Add([]byte(`{"id":"a","cmd":["true"]}`+"\n"+`{"id":"../x","cmd":["y"]}`), false)
	f.Add([]byte(`{"id":"b","fn":"f","args":["1"],"cores":4}`+"\n\n"+`{"id":"b","fn":"g"}`), false)
	mp, _ := msgpack.Marshal([]task.Spec{{ID: "m", Cmd: []string{"x"}}, {ID: "", Cmd: []string{"x"}}})
	f.Add(mp, true)
	f.Fuzz(func(t *testing.T, body []byte, asMsgpack bool) {
		ct := wire.ContentTypeJSONL
		if asMsgpack {
			ct = wire.ContentTypeMsgpack
		}
		before := snapshot(t, st)
		w := post(h, wire.PathTasks, ct, body)
		checkAnswer(t, st, w, before)
		if w.Code == http.StatusOK {
			var out wire.SubmitResponse
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatalf("answer: %v", err)
			}
			if added := snapshot(t, st).Pending - before.Pending; added > out.Accepted {
				t.Fatalf("%d tasks stored, %d reported accepted", added, out.Accepted)
			}
		}
	})
}

// FuzzPilotBodies feeds arbitrary bodies to lease, renew, complete and
// release.
func FuzzPilotBodies(f *testing.F) {
	h, st := fuzzServer(f)
	if w := post(h, wire.PathTasks, wire.ContentTypeJSONL, []byte(`{"id":"a","cmd":["x"]}`+"\n"+`{"id":"b","cmd":["x"],"cores":2}`)); w.Code != 200 {
		f.Fatal(w.Body.String())
	}
	f.Add(uint8(0), []byte(`{"cluster":"c","max_tasks":1,"ttl_s":60}`))
	f.Add(uint8(1), []byte(`{"cluster":"c","ids":["a"],"ttl_s":60}`))
	f.Add(uint8(2), []byte(`{"cluster":"c","results":[{"id":"a","state":"done","attempts":1}]}`))
	f.Add(uint8(3), []byte(`{"cluster":"c","ids":["a","b"]}`))
	paths := []string{wire.PathLease, wire.PathRenew, wire.PathComplete, wire.PathRelease}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		before := snapshot(t, st)
		w := post(h, paths[int(which)%len(paths)], "application/json", body)
		checkAnswer(t, st, w, before)
	})
}
