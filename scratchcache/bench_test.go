package scratchcache

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkAgentMiss is the agent's path for a short task that writes no
// output files and prints nothing (so the runner makes no log file): Open
// of a new entry, Seal of a small value, on a directory under $TMPDIR (the
// real disk unless that is a tmpfs). <call>/op count the calls the cache
// makes through its FS; created/op the inodes it creates, the cost that
// dominates on ext4 (strace -f -c on the test binary counts the system
// calls behind them).
func BenchmarkAgentMiss(b *testing.B) {
	benchAgentMiss(b, []byte(`{"shift_ppm":12.5}`))
}

// BenchmarkAgentMissSilent is the same for a task that also seals no
// value (`true`): a silent seal, which creates no inode.
func BenchmarkAgentMissSilent(b *testing.B) {
	benchAgentMiss(b, nil)
}

func benchAgentMiss(b *testing.B, value []byte) {
	counter := newCountingFS()
	c, err := New(Config{Root: b.TempDir(), FS: counter, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	counter.reset()
	i := 0
	for b.Loop() {
		i++
		id := "t" + strconv.Itoa(i)
		_, l, err := c.Open(id, specDigest(id), 1)
		if err != nil || l == nil {
			b.Fatalf("miss: %v", err)
		}
		if _, err := l.Seal(context.Background(), value); err != nil {
			b.Fatal(err)
		}
	}
	calls := counter.reset()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/op")
	for op, n := range calls {
		b.ReportMetric(float64(n)/float64(b.N), op+"/op")
	}
}
