package task

import (
	"regexp"
	"testing"

	"pgregory.net/rapid"
)

// TestIDPatternIsTheRegexp: the hand-written check says what the
// documented pattern says, for any string, and for strings of the allowed
// alphabet around the length limit.
func TestIDPatternIsTheRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	rapid.Check(t, func(rt *rapid.T) {
		id := rapid.OneOf(
			rapid.String(),
			rapid.StringMatching(`[A-Za-z0-9._-]{0,130}`),
			rapid.StringMatching(`[A-Za-z0-9._/ é-]{1,12}`),
		).Draw(rt, "id")
		if got, want := idPattern(id), re.MatchString(id); got != want {
			rt.Fatalf("idPattern(%q) = %v, the regexp says %v", id, got, want)
		}
	})
}
