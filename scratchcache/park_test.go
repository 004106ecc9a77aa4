package scratchcache

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// entryNames lists an entry directory, "" for one that is not there.
func entryNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// The sealed entry's directory stays beside its seal, with its live lease,
// until the next new entry takes it with one rename: no pool on the way,
// and the seal still hits.
func TestParkedEntryIsHandedOnWithOneRename(t *testing.T) {
	counter := newCountingFS()
	c := newTestCache(t, t.TempDir(), newClock(), func(cfg *Config) { cfg.FS = counter })
	sealSilent(t, c, "a")
	if err := os.MkdirAll(filepath.Dir(c.entryDir(specDigest("b"))), 0o755); err != nil {
		t.Fatal(err) // not b's shard's first entry
	}
	a := c.entryDir(specDigest("a"))
	if names := entryNames(t, a); len(names) != 3 {
		t.Fatalf("a's entry directory holds %v, want it parked whole beside its seal", names)
	}
	if recs, err := c.readLeases(a); err != nil || len(recs) != 1 || !c.live(recs[0]) {
		t.Fatalf("a parked entry's records: %+v %v, want its live lease (no attempt may take it over)", recs, err)
	}
	counter.reset()
	lb := mustOpenLease(t, c, "b", specDigest("b"), 1)
	if calls := counter.reset(); calls["rename"] != 1 || calls["created"] != 0 {
		t.Fatalf("the next miss made %v, want one rename and no new inode", calls)
	}
	if names := entryNames(t, a); names != nil {
		t.Fatalf("a's entry directory is still there: %v", names)
	}
	recs, err := c.readLeases(c.entryDir(specDigest("b")))
	if err != nil || len(recs) != 1 || recs[0].Task != "b" || !c.live(recs[0]) {
		t.Fatalf("b's records: %+v %v", recs, err)
	}
	if _, err := lb.Seal(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	mustHit(t, c, "a", specDigest("a"), 2)
	mustHit(t, c, "b", specDigest("b"), 2)
}

// A parked entry that no new entry takes goes into the pool on its own,
// within parkFor; Close puts away the others at once.
func TestIdleParkedEntryGoesToThePool(t *testing.T) {
	c := newTestCache(t, t.TempDir(), newClock(), func(cfg *Config) { cfg.LeaseTTL = time.Second })
	sealSilent(t, c, "a")
	a := c.entryDir(specDigest("a"))
	for deadline := time.Now().Add(10 * time.Second); entryNames(t, a) != nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a's entry is still parked %s after its seal (parkFor %s)", 10*time.Second, c.parkFor())
		}
	}
	if names := entryNames(t, c.pool.dir); len(names) != 2 { // the entry and the marker
		t.Fatalf("the pool holds %v, want the entry and the marker", names)
	}
	sealSilent(t, c, "b")
	c.Close()
	if names := entryNames(t, c.entryDir(specDigest("b"))); names != nil {
		t.Fatalf("b's entry is still parked after Close: %v", names)
	}
}

// A parked entry is handed on only while no other attempt can have taken
// its lease over: past half a LeaseTTL after its record was written it
// stays where it is (a leftover beside its seal) and the next entry is
// made new. One of another attempt number goes through the pool.
func TestParkedEntryPastItsMarginStays(t *testing.T) {
	clk := newClock()
	c := newTestCache(t, t.TempDir(), clk, nil)
	sealSilent(t, c, "a")
	clk.Advance(DefaultLeaseTTL / 2)
	sealSilent(t, c, "b")
	if names := entryNames(t, c.entryDir(specDigest("a"))); len(names) != 3 {
		t.Fatalf("a's entry directory holds %v, want it left in place", names)
	}
	c.Close()
	if names := entryNames(t, c.entryDir(specDigest("a"))); len(names) != 3 {
		t.Fatalf("Close moved a's entry past its margin: %v", names)
	}
	if names := entryNames(t, c.entryDir(specDigest("b"))); names != nil {
		t.Fatalf("b's entry was not put away: %v", names)
	}

	sealSilent(t, c, "c")
	ld := mustOpenLease(t, c, "d", specDigest("d"), 2)
	if names := entryNames(t, c.entryDir(specDigest("c"))); names != nil {
		t.Fatalf("c's entry was not taken: %v", names)
	}
	if recs, err := c.readLeases(c.entryDir(specDigest("d"))); err != nil || len(recs) != 1 || recs[0].Attempt != 2 {
		t.Fatalf("d's records: %+v %v, want attempt 2's alone", recs, err)
	}
	if _, err := ld.Seal(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	mustHit(t, c, "c", specDigest("c"), 2)
}
