package coordinator

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// TestWALReopensAfterTailTruncation is what a follower does when a new
// leader overwrites the end of its log (raft deletes the conflicting
// suffix) and the process is then killed: the log must open again.
// raft-wal v0.4.0 sealed the truncated segment without its index block
// and the agent panicked on restart ("sealed segment has no index block",
// hashicorp/raft-wal#31; chaos crash-persist).
func TestWALReopensAfterTailTruncation(t *testing.T) {
	dir := t.TempDir()
	open := func() (*raftwal.WAL, func()) {
		meta := &metadb.BoltMetaDB{}
		w, err := raftwal.Open(dir, raftwal.WithMetaStore(meta))
		if err != nil {
			t.Fatal(err)
		}
		return w, func() { w.Close(); meta.Close() }
	}
	logs := func(from, to, term uint64) []*raft.Log {
		var out []*raft.Log
		for i := from; i <= to; i++ {
			out = append(out, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: []byte("x")})
		}
		return out
	}
	w, closeWAL := open()
	if err := w.StoreLogs(logs(1, 20, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.DeleteRange(15, 20); err != nil { // the conflicting suffix
		t.Fatal(err)
	}
	if err := w.StoreLogs(logs(15, 16, 2)); err != nil {
		t.Fatal(err)
	}
	closeWAL() // the process dies; the files stay as they are

	w, closeWAL = open()
	defer closeWAL()
	last, err := w.LastIndex()
	if err != nil || last != 16 {
		t.Fatalf("reopened log: last index %d, %v; want 16", last, err)
	}
	for i := uint64(1); i <= 16; i++ {
		var l raft.Log
		if err := w.GetLog(i, &l); err != nil {
			t.Fatalf("reopened log: entry %d: %v", i, err)
		}
		if want := uint64(1 + i/15); l.Term != want {
			t.Errorf("entry %d has term %d, want %d", i, l.Term, want)
		}
	}
}

// TestOpenRemovesHalfSnapshots opens a node on the data of one killed
// while it persisted a snapshot: the half-written one goes.
func TestOpenRemovesHalfSnapshots(t *testing.T) {
	dir := t.TempDir()
	half := filepath.Join(dir, "snapshots", "2-37-1795952474890.tmp")
	if err := os.MkdirAll(half, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(half, "state.bin"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := Open(Config{ID: "n1", Dir: dir, Bind: "127.0.0.1:0", Timeouts: LoopbackTimeouts,
		Logger: slog.New(slog.DiscardHandler), RaftLogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	if _, err := os.Stat(half); !os.IsNotExist(err) {
		t.Fatalf("the half-written snapshot %s is still there (%v)", half, err)
	}
}
