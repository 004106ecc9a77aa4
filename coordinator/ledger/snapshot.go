package ledger

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/vmihailenco/msgpack/v5"
)

// snapshotFormat is the version of the Persist stream; bump it when the
// layout changes, and keep reading the old ones.
const snapshotFormat = 1

// header opens a Persist stream; the node and task records follow it.
type header struct {
	Format     int    `msgpack:"format"`
	Applied    uint64 `msgpack:"applied"`
	Seq        uint64 `msgpack:"seq"`
	Duplicates uint64 `msgpack:"duplicates"`
	Late       uint64 `msgpack:"late,omitempty"` // absent from older streams: 0
	Nodes      int    `msgpack:"nodes"`
	Tasks      int    `msgpack:"tasks"`
}

// Snapshot is a point-in-time copy of the ledger, taken in O(1).
type Snapshot struct {
	view View
}

// Applied is the index of the last entry the snapshot includes.
func (s *Snapshot) Applied() uint64 { return s.view.Applied() }

// Persist writes the snapshot; see View.Persist.
func (s *Snapshot) Persist(w io.Writer) error { return s.view.Persist(w) }

// Persist writes the state as a msgpack stream: a header, then every node
// sorted by id, then every task sorted by id, maps with sorted keys. Two
// replicas in the same state write the same bytes.
func (v View) Persist(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := msgpack.NewEncoder(bw)
	enc.SetSortMapKeys(true)
	s := v.s
	h := header{Format: snapshotFormat, Applied: s.applied, Seq: s.seq, Duplicates: s.counts.Duplicates, Late: s.counts.Late, Nodes: s.nodes.Len(), Tasks: s.tasks.Len()}
	if err := enc.Encode(&h); err != nil {
		return fmt.Errorf("ledger snapshot: header: %w", err)
	}
	var err error
	s.nodes.Walk(func(_ string, n *Node) bool {
		if err = enc.Encode(n); err != nil {
			err = fmt.Errorf("ledger snapshot: node %q: %w", n.ID, err)
		}
		return err != nil
	})
	if err != nil {
		return err
	}
	s.tasks.Walk(func(_ string, t *Task) bool {
		if err = enc.Encode(t); err != nil {
			err = fmt.Errorf("ledger snapshot: task %q: %w", t.Spec.ID, err)
		}
		return err != nil
	})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("ledger snapshot: %w", err)
	}
	return nil
}

// Hash is the hex SHA-256 of what Persist writes: replicas in the same
// state have the same hash. It walks the whole state.
func (v View) Hash() string {
	h := sha256.New()
	if err := v.Persist(h); err != nil {
		panic(err) // a hash never fails to write; an encode error is a bug
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Restore replaces the whole state with a stream written by Persist; the
// prior state is discarded. Nodes' usage and the counts are recomputed from
// the task records, and the result is checked with CheckInvariants, so a
// damaged snapshot is refused rather than half loaded. On error the ledger
// keeps its prior state.
func (l *Ledger) Restore(r io.Reader) error {
	dec := msgpack.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	var h header
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("ledger restore: header: %w", err)
	}
	if h.Format != snapshotFormat {
		return fmt.Errorf("ledger restore: snapshot format %d, this version reads %d", h.Format, snapshotFormat)
	}
	x := begin(emptyState(), &Outcome{Index: h.Applied})
	x.seq = h.Seq
	x.counts.Duplicates, x.counts.Late = h.Duplicates, h.Late
	for i := 0; i < h.Nodes; i++ {
		n := new(Node)
		if err := dec.Decode(n); err != nil {
			return fmt.Errorf("ledger restore: node record %d of %d: %w", i+1, h.Nodes, err)
		}
		n.UsedCores, n.UsedMemMB, n.Tasks = 0, 0, 0
		x.nodes.Insert(n.ID, n)
	}
	for i := 0; i < h.Tasks; i++ {
		t := new(Task)
		if err := dec.Decode(t); err != nil {
			return fmt.Errorf("ledger restore: task record %d of %d: %w", i+1, h.Tasks, err)
		}
		if _, dup := x.task(t.Spec.ID); dup {
			return fmt.Errorf("ledger restore: task %q appears twice", t.Spec.ID)
		}
		x.put(nil, t)
	}
	s := x.commit(h.Applied)
	if err := (View{s: s}).CheckInvariants(); err != nil {
		return fmt.Errorf("ledger restore: the snapshot breaks the ledger's rules: %w", err)
	}
	l.cur.Store(s)
	return nil
}
