package jsonappend

import (
	"encoding/json"
	"strconv"
	"time"
)

// String appends s quoted as json.Marshal quotes it: as it is when it is
// printable ASCII that needs no escape (none of ", \ and the HTML
// characters <, >, &), else by json.Marshal itself.
func String(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Ints appends s as json.Marshal encodes an []int: null when nil.
func Ints(b []byte, s []int) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return append(b, ']')
}

// Time appends t as time.Time.MarshalJSON does: quoted RFC 3339 with
// nanoseconds, by the same strict formatter (AppendText), which fails
// where MarshalJSON fails (a year past 9999, an offset of a day).
func Time(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	return append(b, '"'), err
}
