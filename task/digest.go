package task

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
)

// Digest is a hash of everything that determines a task's result: its argv
// (or function and args), input, environment and the user's cache_key. Two
// tasks with one digest compute the same thing, so the scratch cache keys its
// entries by it. Resources and attempt budgets do not change a result and are
// left out. The encoding is length-prefixed so no two specs collide by
// concatenation.
func (s Spec) Digest() string {
	h := sha256.New()
	field := func(tag byte, v string) {
		var n [9]byte
		n[0] = tag
		l := uint64(len(v))
		for i := 0; i < 8; i++ {
			n[1+i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write([]byte(v))
	}
	for _, a := range s.Cmd {
		field('c', a)
	}
	field('f', s.Fn)
	for _, a := range s.Args {
		field('a', a)
	}
	field('i', s.Input)
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field('k', k)
		field('v', s.Env[k])
	}
	field('u', s.CacheKey)
	return hex.EncodeToString(h.Sum(nil))
}
