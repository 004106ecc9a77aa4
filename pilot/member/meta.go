package member

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/vmihailenco/msgpack/v5"
)

// Role is a node's part in Raft.
type Role string

const (
	RoleVoter  Role = "voter"
	RoleWorker Role = "worker" // a non-voter: runs tasks, may be promoted
)

// Meta is what a node tells the cluster about itself. Field names are the
// wire format (msgpack map keys): never rename them; add new fields freely.
type Meta struct {
	Cores    int    `msgpack:"cores"`
	MemMB    int64  `msgpack:"mem_mb"`
	Pilot    string `msgpack:"pilot"`   // Slurm job id, or "local"
	PilotEnd int64  `msgpack:"end"`     // unix seconds when the pilot's allocation ends; 0: unknown
	RPCAddr  string `msgpack:"rpc"`     // host:port of the agent RPC
	RaftAddr string `msgpack:"raft"`    // host:port of the Raft transport
	Role     Role   `msgpack:"role"`    // voter or worker
	Draining bool   `msgpack:"drain"`   // takes no new task
	Leaving  bool   `msgpack:"leaving"` // set by Leave just before it goes
	Version  string `msgpack:"version"` // the binary's version, for a mixed-version cluster
}

// End is the pilot's end time (zero when unknown).
func (m Meta) End() time.Time {
	if m.PilotEnd == 0 {
		return time.Time{}
	}
	return time.Unix(m.PilotEnd, 0)
}

// metaV1 is the type byte of the Meta encoding. Append-only: a new layout
// gets a new byte, and old bytes are never reused.
const metaV1 byte = 1

// MaxMetaSize is memberlist's limit on a node's metadata.
const MaxMetaSize = memberlist.MetaMaxSize

// ErrMeta is wrapped by errors decoding a node's metadata.
var ErrMeta = errors.New("bad node metadata")

// EncodeMeta encodes m as its type byte and msgpack map.
func EncodeMeta(m Meta) ([]byte, error) {
	body, err := msgpack.Marshal(&m)
	if err != nil {
		return nil, fmt.Errorf("encoding node metadata: %w", err)
	}
	b := append([]byte{metaV1}, body...)
	if len(b) > MaxMetaSize {
		return nil, fmt.Errorf("node metadata is %d bytes, the limit is %d: shorten the pilot id or addresses", len(b), MaxMetaSize)
	}
	return b, nil
}

// DecodeMeta decodes what EncodeMeta made. Unknown fields are ignored, so
// a newer node's metadata still decodes.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, fmt.Errorf("%w: empty", ErrMeta)
	}
	if b[0] != metaV1 {
		return m, fmt.Errorf("%w: unknown type byte %d (a newer pilot version?)", ErrMeta, b[0])
	}
	if err := msgpack.Unmarshal(b[1:], &m); err != nil {
		return Meta{}, fmt.Errorf("%w: %v", ErrMeta, err)
	}
	return m, nil
}
