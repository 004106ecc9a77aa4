package jsonappend

import (
	"encoding/json"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// Any string, int list and time encodes as encoding/json encodes it, and
// fails where it fails.
func TestAsEncodingJSON(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := rapid.String().Draw(rt, "s")
		want, _ := json.Marshal(s)
		if got := String(nil, s); string(got) != string(want) {
			rt.Fatalf("String(%q) = %s, encoding/json gives %s", s, got, want)
		}
		ints := rapid.SliceOf(rapid.Int()).Draw(rt, "ints")
		if rapid.Bool().Draw(rt, "nil") {
			ints = nil
		}
		want, _ = json.Marshal(ints)
		if got := Ints(nil, ints); string(got) != string(want) {
			rt.Fatalf("Ints(%v) = %s, encoding/json gives %s", ints, got, want)
		}
		tm := time.Unix(rapid.Int64Range(-1<<36, 1<<38).Draw(rt, "s"), rapid.Int64Range(0, 999999999).Draw(rt, "ns")).
			In(time.FixedZone("z", rapid.IntRange(-30*3600, 30*3600).Draw(rt, "offset")))
		want, werr := json.Marshal(tm)
		got, err := Time(nil, tm)
		if (err != nil) != (werr != nil) || (err == nil && string(got) != string(want)) {
			rt.Fatalf("Time(%v) = %s, %v; encoding/json gives %s, %v", tm, got, err, want, werr)
		}
	})
}
