package sched

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPlace plans 10,000 pending tasks onto 1,000 nodes of 56 cores
// in 20 pilots with different end times, half of the cores busy: the
// target is ≤ 10 ms per call.
func BenchmarkPlace(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	var v View
	for i := range 1000 {
		v.Nodes = append(v.Nodes, Node{
			ID:         fmt.Sprintf("node-%04d", i),
			TotalCores: 56, FreeCores: rng.IntN(57),
			TotalMemMB: 256 << 10, FreeMemMB: int64(rng.IntN(256 << 10)),
			PilotEnd: t0.Add(time.Duration(1+i/50) * time.Hour),
			Draining: i%97 == 0,
		})
	}
	pending := make([]Task, 10000)
	for i := range pending {
		cores := 1 + rng.IntN(8)
		if rng.IntN(10) == 0 {
			cores = 1 + rng.IntN(56)
		}
		pending[i] = Task{
			ID: fmt.Sprintf("task-%05d", i), Cores: cores, MemMB: int64(cores) * 2048,
			Est: time.Duration(60+rng.IntN(7200)) * time.Second, Key: fmt.Sprintf("fn%d/%d", i%7, cores),
			Since: t0.Add(-time.Duration(rng.IntN(3600)) * time.Second), Seq: uint64(i),
		}
	}
	cfg := DefaultConfig()
	var placed int
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		placed = len(Place(v, pending, t0, cfg).Placements)
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/op")
	// CPU time per call is what the machine's load does not inflate.
	b.ReportMetric((cpuTime(b)-cpu0).Seconds()*1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(placed), "placed")
}
