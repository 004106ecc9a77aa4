package authconn

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of a campaign key: 32 bytes, an AES-256 key for
// memberlist's gossip encryption and the secret of the handshake.
const KeySize = 32

// ErrKeyFile is wrapped by every error about a campaign key file's content
// or permissions: the user must fix or replace the file.
var ErrKeyFile = errors.New("bad campaign key file")

// LoadOrCreateKey reads the campaign key from path, or creates it with a
// fresh random key and mode 0600 when no file exists. The file holds the key
// in standard base64 on one line. Creation is atomic (a private temporary
// file hard-linked into place), so agents that start at once on a shared
// filesystem all end up with the one key that won. A file that group or
// others may read or write is refused, naming the file and the fix.
func LoadOrCreateKey(path string) ([]byte, error) {
	key, err := LoadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := createKey(path); err != nil {
		return nil, err
	}
	return LoadKey(path)
}

// LoadKey reads an existing campaign key file.
func LoadKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("campaign key file %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("campaign key file %s: %w", path, err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o, so other users could read the key; run 'chmod 600 %s' (or delete it to make a new key: the live cluster would then refuse this agent)", ErrKeyFile, path, perm, path)
	}
	buf := make([]byte, 256)
	n, _ := f.Read(buf)
	text := strings.TrimSpace(string(buf[:n]))
	key, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not one line of base64: %v", ErrKeyFile, path, err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: %s holds a %d-byte key, want %d bytes", ErrKeyFile, path, len(key), KeySize)
	}
	return key, nil
}

func createKey(path string) error {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("campaign key file %s: random key: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("campaign key file %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return fmt.Errorf("campaign key file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("campaign key file %s: %w", path, err)
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("campaign key file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("campaign key file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("campaign key file %s: %w", path, err)
	}
	// Link fails if path exists: another agent won the race, and its key
	// is the one everybody loads.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("campaign key file %s: %w", path, err)
	}
	return nil
}
