package server

import (
	"encoding/binary"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// state is where a task is in the queue. A task in pending or leased whose
// epoch is older than the store's was flushed.
type state uint8

const (
	statePending state = 1
	stateLeased  state = 2
	stateDone    state = 3
	stateFailed  state = 4
)

func (s state) final() bool { return s == stateDone || s == stateFailed }

// taskRec is the small per-task record of the tasks bucket; the task's JSON
// line is kept apart in specs so state changes do not rewrite it.
type taskRec struct {
	State   state  `msgpack:"s"`
	Epoch   uint64 `msgpack:"e"`
	Seq     uint64 `msgpack:"q"` // key in pending-E; kept so a returned task goes back to its place
	Cores   int    `msgpack:"c"`
	Cluster string `msgpack:"k,omitempty"`
	Lease   string `msgpack:"l,omitempty"`
	Expiry  int64  `msgpack:"x,omitempty"` // unix nanoseconds
}

// counters are the meta record: the per-state counts that Status reads
// without a scan, and the sequences.
type counters struct {
	Epoch      uint64 `msgpack:"epoch"`
	Seq        uint64 `msgpack:"seq"`
	ResultSeq  uint64 `msgpack:"result_seq"`
	DupSeq     uint64 `msgpack:"dup_seq"`
	LeaseSeq   uint64 `msgpack:"lease_seq"`
	Pending    int    `msgpack:"pending"`
	Leased     int    `msgpack:"leased"`
	Done       int    `msgpack:"done"`
	Failed     int    `msgpack:"failed"`
	Flushed    int    `msgpack:"flushed"`
	Duplicates int    `msgpack:"duplicates"`
}

func (r *taskRec) flushed(epoch uint64) bool {
	return !r.State.final() && r.Epoch < epoch
}

func decodeRec(id, b []byte) taskRec {
	var r taskRec
	if err := msgpack.Unmarshal(b, &r); err != nil {
		// The file is corrupt: nothing sensible can be answered.
		panic(fmt.Sprintf("queue.db: task %q: undecodable record: %v", id, err))
	}
	return r
}

func encode(v any) []byte {
	b, err := msgpack.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encoding %T: %v", v, err))
	}
	return b
}

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

// leaseKey orders leases by expiry so the reaper stops at the first live one.
func leaseKey(expiry int64, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(expiry))
	return append(k, id...)
}

func pendingName(epoch uint64) []byte { return fmt.Appendf(nil, "pending-%d", epoch) }
func leasesName(epoch uint64) []byte  { return fmt.Appendf(nil, "leases-%d", epoch) }

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
