package pilot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// LeaderFile is the leader record's name in the campaign's state
// directory: the leader writes it (atomically) when it takes over, so that
// 'pilot status' and 'pilot flush' find the live cluster.
const LeaderFile = "leader.json"

// LeaderRecord says which node leads and where its HTTP server listens.
// Nothing in it is secret.
type LeaderRecord struct {
	Node  string    `json:"node"`
	HTTP  string    `json:"http"`
	Pilot string    `json:"pilot"`
	Since time.Time `json:"since"`
}

func writeLeaderRecord(stateDir string, rec LeaderRecord) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(stateDir, "."+LeaderFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("leader record: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(stateDir, LeaderFile))
	}
	if err != nil {
		return fmt.Errorf("leader record %s: %w", filepath.Join(stateDir, LeaderFile), err)
	}
	return nil
}

// ReadLeaderRecord reads the leader record of a campaign's state directory.
// The record may be stale: the cluster it names may be gone.
func ReadLeaderRecord(stateDir string) (LeaderRecord, error) { return readLeaderRecord(stateDir) }

func readLeaderRecord(stateDir string) (LeaderRecord, error) {
	var rec LeaderRecord
	path := filepath.Join(stateDir, LeaderFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("leader record %s: %w (it is only ever replaced whole: delete it, the leader writes it again)", path, err)
	}
	return rec, nil
}

// removeLeaderRecord deletes the leader record when it still names node.
func removeLeaderRecord(stateDir, node string) {
	if rec, err := readLeaderRecord(stateDir); err == nil && rec.Node == node {
		os.Remove(filepath.Join(stateDir, LeaderFile))
	}
}

// AdminToken is the bearer token of the mutating endpoints of the status
// server (POST /flush), derived from the campaign key: whoever can read
// STATE/campaign.key may flush, nobody else.
func AdminToken(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("pilot status admin token v1"))
	return hex.EncodeToString(m.Sum(nil))
}
