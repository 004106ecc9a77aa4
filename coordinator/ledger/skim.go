package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// skim walks one msgpack value without decoding it and checks that every
// declared length fits in the bytes that remain. msgpack/v5 allocates a
// slice of the declared length before reading its elements, so without
// this a corrupt length in a log entry would exhaust memory instead of
// failing to decode.
func skim(b []byte) error {
	rest, err := skimValue(b, 0)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d bytes after the body", len(rest))
	}
	return nil
}

const maxSkimDepth = 32

var errShort = errors.New("the body is cut short")

func skimValue(b []byte, depth int) ([]byte, error) {
	if depth > maxSkimDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxSkimDepth)
	}
	if len(b) == 0 {
		return nil, errShort
	}
	c, b := b[0], b[1:]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3: // fixint, nil, bool
		return b, nil
	case c >= 0x80 && c <= 0x8f:
		return skimItems(b, 2*int(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return skimItems(b, int(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf:
		return skipN(b, int(c&0x1f))
	}
	switch c {
	case 0xcc, 0xd0:
		return skipN(b, 1)
	case 0xcd, 0xd1:
		return skipN(b, 2)
	case 0xca, 0xce, 0xd2:
		return skipN(b, 4)
	case 0xcb, 0xcf, 0xd3:
		return skipN(b, 8)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16 (+ type byte)
		return skipN(b, 1+1<<(c-0xd4))
	case 0xc4, 0xd9: // bin8, str8
		n, b, err := length(b, 1)
		if err != nil {
			return nil, err
		}
		return skipN(b, n)
	case 0xc5, 0xda:
		n, b, err := length(b, 2)
		if err != nil {
			return nil, err
		}
		return skipN(b, n)
	case 0xc6, 0xdb:
		n, b, err := length(b, 4)
		if err != nil {
			return nil, err
		}
		return skipN(b, n)
	case 0xc7, 0xc8, 0xc9: // ext8, 16, 32 (+ type byte)
		n, b, err := length(b, 1<<(c-0xc7))
		if err != nil {
			return nil, err
		}
		return skipN(b, n+1)
	case 0xdc, 0xde: // array16, map16
		n, b, err := length(b, 2)
		if err != nil {
			return nil, err
		}
		if c == 0xde {
			n *= 2
		}
		return skimItems(b, n, depth)
	case 0xdd, 0xdf: // array32, map32
		n, b, err := length(b, 4)
		if err != nil {
			return nil, err
		}
		if c == 0xdf {
			n *= 2
		}
		return skimItems(b, n, depth)
	}
	return nil, fmt.Errorf("byte 0x%02x is not a msgpack type", c)
}

func length(b []byte, size int) (int, []byte, error) {
	if len(b) < size {
		return 0, nil, errShort
	}
	switch size {
	case 1:
		return int(b[0]), b[1:], nil
	case 2:
		return int(binary.BigEndian.Uint16(b)), b[2:], nil
	}
	return int(binary.BigEndian.Uint32(b)), b[4:], nil
}

func skipN(b []byte, n int) ([]byte, error) {
	if n < 0 || n > len(b) {
		return nil, errShort
	}
	return b[n:], nil
}

// skimItems skims n values; each takes at least one byte, so a count
// beyond the remaining bytes is refused before anything is allocated.
func skimItems(b []byte, n, depth int) ([]byte, error) {
	if n > len(b) {
		return nil, fmt.Errorf("%d items declared, %d bytes remain", n, len(b))
	}
	var err error
	for i := 0; i < n; i++ {
		if b, err = skimValue(b, depth+1); err != nil {
			return nil, err
		}
	}
	return b, nil
}
