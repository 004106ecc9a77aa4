package scratchcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

const manifestVersion = 1

// Manifest describes one sealed entry. It is written last into the sealed
// directory and carries its own checksum, so a torn or edited manifest is
// detected like a damaged output file.
type Manifest struct {
	Version int    `json:"version"`
	TaskID  string `json:"task_id"`
	Digest  string `json:"digest"`
	Attempt int    `json:"attempt"`
	// Started is when the sealing attempt took its lease; Sealed when it sealed.
	Started time.Time `json:"started"`
	Sealed  time.Time `json:"sealed"`
	// Value is the result value when it fits inline (≤ InlineMax bytes).
	Value json.RawMessage `json:"value,omitempty"`
	// Output is what the result record carries when anything was staged:
	// the one staged object, or, when there are several, a JSON index
	// (a list of File) of them all.
	Output *task.Output `json:"output,omitempty"`
	// Files are the output files, sorted by name. A file with a URI was
	// staged to the results store; one without lies in the sealed
	// directory under its name.
	Files    []File `json:"files"`
	Checksum string `json:"checksum"`
}

// File is one output file of a sealed entry.
type File struct {
	Name   string `json:"name"` // slash path relative to the output directory
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	URI    string `json:"uri,omitempty"`
}

// LocalBytes is the size of the files kept in the sealed directory.
func (m *Manifest) LocalBytes() int64 {
	var n int64
	for _, f := range m.Files {
		if f.URI == "" {
			n += f.Bytes
		}
	}
	return n
}

func (m *Manifest) body() ([]byte, error) {
	cp := *m
	cp.Checksum = ""
	return json.Marshal(&cp)
}

// encode sets the checksum and returns the manifest's bytes.
func (m *Manifest) encode() ([]byte, error) {
	body, err := m.body()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	m.Checksum = hex.EncodeToString(sum[:])
	b, err := json.Marshal(m) // not indented: that would re-indent Value too
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// decodeManifest parses and checks a manifest against its own checksum and
// the digest it is expected to describe.
func decodeManifest(b []byte, digest string) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest does not parse: %v", ErrCorrupt, err)
	}
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("%w: manifest version %d, this pilot reads %d", ErrCorrupt, m.Version, manifestVersion)
	}
	body, err := m.body()
	if err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrCorrupt, err)
	}
	sum := sha256.Sum256(body)
	if got := hex.EncodeToString(sum[:]); got != m.Checksum {
		return nil, fmt.Errorf("%w: manifest checksum %s, its content hashes to %s", ErrCorrupt, m.Checksum, got)
	}
	if m.Digest != digest {
		return nil, fmt.Errorf("%w: manifest is for digest %s, found under %s", ErrCorrupt, m.Digest, digest)
	}
	return &m, nil
}

// inlineValue turns a task's value into JSON for the result record: valid
// JSON is kept (compacted), anything else becomes a JSON string.
func inlineValue(v []byte) (json.RawMessage, error) {
	if len(v) == 0 {
		return nil, nil
	}
	if json.Valid(v) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	return json.Marshal(string(v))
}
