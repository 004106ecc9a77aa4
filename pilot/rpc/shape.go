package rpc

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Limits on a body's shape, checked before it is decoded: msgpack v5.4.1
// preallocates a slice of structs as long as its header claims, so a short
// frame claiming a billion elements would exhaust memory. The walk proves
// every array and map holds what its header says, within these bounds.
const (
	maxItems = 1 << 16 // elements of one array or entries of one map
	maxDepth = 16      // nesting of arrays and maps
)

// checkShape walks a msgpack body without decoding it into values.
func checkShape(body []byte) error {
	d := msgpack.NewDecoder(bytes.NewReader(body))
	if err := walk(d, 0); err != nil {
		return fmt.Errorf("%w: %v", ErrFrame, err)
	}
	if _, err := d.PeekCode(); err == nil {
		return fmt.Errorf("%w: bytes after the body", ErrFrame)
	}
	return nil
}

func walk(d *msgpack.Decoder, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("nested deeper than %d", maxDepth)
	}
	c, err := d.PeekCode()
	if err != nil {
		return err
	}
	var n, per int
	switch {
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err = d.DecodeArrayLen()
		per = 1
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err = d.DecodeMapLen()
		per = 2
	default:
		return d.Skip()
	}
	if err != nil {
		return err
	}
	if n > maxItems {
		return fmt.Errorf("an array or map of %d items, the limit is %d", n, maxItems)
	}
	for i := 0; i < n*per; i++ {
		if err := walk(d, depth+1); err != nil {
			return err
		}
	}
	return nil
}
