package server

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"os"
	"strings"
)

// Role is what a token may do.
type Role string

// The roles of the token file.
const (
	RoleSubmit Role = "submit" // submit tasks; read status and results
	RolePilot  Role = "pilot"  // lease, renew, complete, release; read
	RoleAdmin  Role = "admin"  // everything, including flush
)

// MinTokenLength keeps guessable tokens out of the token file.
const MinTokenLength = 16

// action is what an endpoint does; roles are sets of actions.
type action int

const (
	actRead action = iota
	actSubmit
	actLease
	actFlush
)

func (r Role) may(a action) bool {
	switch r {
	case RoleAdmin:
		return true
	case RoleSubmit:
		return a == actRead || a == actSubmit
	case RolePilot:
		return a == actRead || a == actLease
	}
	return false
}

// needs names the roles that may do a, for error messages.
func needs(a action) string {
	switch a {
	case actSubmit:
		return "role submit (or admin)"
	case actLease:
		return "role pilot (or admin)"
	case actFlush:
		return "role admin"
	}
	return "any role (submit, pilot or admin)"
}

type tokenEntry struct {
	hash [sha256.Size]byte
	role Role
	name string
}

// Tokens are the credentials of a token file.
type Tokens struct {
	entries []tokenEntry
}

// LoadTokens reads a token file: one token per line, "ROLE TOKEN [NAME]",
// ROLE one of submit, pilot, admin; TOKEN at least 16 characters without
// spaces; NAME (optional) is what the logs call its holder. Blank lines and
// lines starting with # are ignored. The file must not be readable or
// writable by group or others.
func LoadTokens(path string) (*Tokens, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("token file %s has mode %04o: group or others can read or change it; run 'chmod 600 %s'", path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	t := &Tokens{}
	seen := map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || len(f) > 3 {
			return nil, fmt.Errorf("%s:%d: want \"ROLE TOKEN [NAME]\", got %d fields", path, n, len(f))
		}
		role := Role(f[0])
		if role != RoleSubmit && role != RolePilot && role != RoleAdmin {
			return nil, fmt.Errorf("%s:%d: role %q is not one of submit, pilot, admin", path, n, f[0])
		}
		if len(f[1]) < MinTokenLength {
			return nil, fmt.Errorf("%s:%d: the token is %d characters, the minimum is %d; generate one with 'openssl rand -hex 32'", path, n, len(f[1]), MinTokenLength)
		}
		e := tokenEntry{hash: sha256.Sum256([]byte(f[1])), role: role, name: fmt.Sprintf("%s@line%d", role, n)}
		if len(f) == 3 {
			e.name = f[2]
		}
		if prev, dup := seen[e.hash]; dup {
			return nil, fmt.Errorf("%s:%d: the same token is already on line %d; give each holder its own token", path, n, prev)
		}
		seen[e.hash] = n
		t.entries = append(t.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	if len(t.entries) == 0 {
		return nil, fmt.Errorf("token file %s has no tokens; add lines \"ROLE TOKEN [NAME]\"", path)
	}
	return t, nil
}

// lookup finds the entry of a presented token. It compares hashes in
// constant time against every entry, so the time taken says nothing about
// how close a guess came or which entry matched.
func (t *Tokens) lookup(presented string) (tokenEntry, bool) {
	h := sha256.Sum256([]byte(presented))
	var found tokenEntry
	ok := 0
	for _, e := range t.entries {
		eq := subtle.ConstantTimeCompare(h[:], e.hash[:])
		if eq == 1 {
			found = e
		}
		ok |= eq
	}
	return found, ok == 1 && presented != ""
}
