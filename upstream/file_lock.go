package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// lockRecord names the epoch that may write a campaign's state. It is
// replaced by rename; an epoch is taken by creating claims/EPOCH with
// O_EXCL, so two writers never hold one epoch. flock is not used: parallel
// filesystems do not honour it.
type lockRecord struct {
	Epoch uint64    `json:"epoch"`
	Owner string    `json:"owner"`
	At    time.Time `json:"at"`
	// HandBack is set when an admin step (a flush from another process)
	// took the campaign only for itself and returns it to Owner, who then
	// adopts this epoch and rereads the state.
	HandBack bool `json:"hand_back,omitempty"`
}

func readLock(dir string) (lockRecord, error) {
	var r lockRecord
	b, err := os.ReadFile(filepath.Join(dir, lockFile))
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("read lock record: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("lock record %s is not valid JSON (%v); it is only ever replaced whole: restore it", filepath.Join(dir, lockFile), err)
	}
	return r, nil
}

// claimEpoch takes the next free epoch above every one claimed so far for
// owner and publishes it in the lock record.
func claimEpoch(dir, owner string, now time.Time, handBack bool) (lockRecord, error) {
	cur, err := readLock(dir)
	if err != nil {
		return cur, err
	}
	cdir := filepath.Join(dir, claimsDir)
	if err := os.MkdirAll(cdir, 0o700); err != nil {
		return cur, fmt.Errorf("claim campaign: %w", err)
	}
	for e := cur.Epoch + 1; ; e++ {
		name := filepath.Join(cdir, fmt.Sprintf("%020d", e))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return cur, fmt.Errorf("claim campaign epoch %d: %w", e, err)
		}
		_, err = f.WriteString(owner + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return cur, fmt.Errorf("claim campaign epoch %d: %w", e, err)
		}
		rec := lockRecord{Epoch: e, Owner: owner, At: now.UTC(), HandBack: handBack}
		b, _ := json.Marshal(rec)
		if err := writeAtomic(dir, lockFile, append(b, '\n')); err != nil {
			return cur, err
		}
		return rec, nil
	}
}
