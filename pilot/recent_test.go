package pilot

import (
	"testing"

	"github.com/pilot-hpc/pilot/coordinator/ledger"
)

func TestRecentForgetsTheOldestBeyondItsBound(t *testing.T) {
	var r recent
	ref := func(i int) ledger.AttemptRef { return ledger.AttemptRef{Task: "t", Attempt: i} }
	for i := range recentAttempts + 10 {
		r.add(ref(i))
	}
	for i := range 10 {
		if r.has(ref(i)) {
			t.Errorf("attempt %d is still remembered after %d newer ones", i, recentAttempts)
		}
	}
	for i := 10; i < recentAttempts+10; i++ {
		if !r.has(ref(i)) {
			t.Fatalf("attempt %d was forgotten", i)
		}
	}
	if len(r.set) != recentAttempts {
		t.Errorf("remembers %d attempts, the bound is %d", len(r.set), recentAttempts)
	}
}
