package scratchcache

import (
	"regexp"
	"testing"

	"pgregory.net/rapid"
)

// TestIsDigestIsTheRegexp: the hand-written check says what ^[0-9a-f]{64}$
// says, for any string and for hex strings around 64 digits.
func TestIsDigestIsTheRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{64}$`)
	rapid.Check(t, func(rt *rapid.T) {
		d := rapid.OneOf(
			rapid.String(),
			rapid.StringMatching(`[0-9a-fA-Fg]{62,66}`),
			rapid.StringMatching(`[0-9a-f]{64}`),
		).Draw(rt, "digest")
		if got, want := isDigest(d), re.MatchString(d); got != want {
			rt.Fatalf("isDigest(%q) = %v, the regexp says %v", d, got, want)
		}
	})
}
