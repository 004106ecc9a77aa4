package stage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// countingHash counts and hashes the bytes that pass through it.
type countingHash struct {
	h hash.Hash
	n int64
}

func newCountingHash() *countingHash { return &countingHash{h: sha256.New()} }

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

func (c *countingHash) sum() string { return hex.EncodeToString(c.h.Sum(nil)) }

// check compares what passed with the expected size and sum.
func (c *countingHash) check(what string, size int64, sum string) error {
	if c.n != size {
		return fmt.Errorf("%w: %s: %d bytes, expected %d", ErrChecksum, what, c.n, size)
	}
	if got := c.sum(); got != sum {
		return fmt.Errorf("%w: %s: sha256 %s, expected %s", ErrChecksum, what, got, sum)
	}
	return nil
}

// copyChecked copies r to w through a hash and checks size and sum.
func copyChecked(what string, w io.Writer, r io.Reader, size int64, sum string) error {
	ch := newCountingHash()
	if _, err := io.Copy(io.MultiWriter(w, ch), r); err != nil {
		return err
	}
	return ch.check(what, size, sum)
}
