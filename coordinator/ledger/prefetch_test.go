package ledger

import (
	"strings"
	"testing"
)

// A node with a prefetch allowance takes assigned tasks beyond its cores,
// up to cores + prefetch and no further; the allowance counts in
// FreeCores but never in IdleCores, and a rejoin may not shrink it below
// what the node holds.
func TestPrefetchBoundsAssignedCores(t *testing.T) {
	b := newBook(t)
	n1 := join("n1", "p1", 2, 0)
	n1.Node.Prefetch = 2
	b.ok(n1)
	b.ok(ingest(spec("a", 1, 0), spec("b", 1, 0), spec("c", 2, 0), spec("d", 1, 0)))
	b.ok(assign("a", "n1", 1))
	b.ok(assign("b", "n1", 1))
	if n := b.node("n1"); n.FreeCores() != 2 || n.IdleCores() != 0 {
		t.Fatalf("with its cores held: %d free, %d idle; want 2 (the prefetch), 0", n.FreeCores(), n.IdleCores())
	}
	b.ok(assign("c", "n1", 1)) // the backlog: 4 cores assigned on 2
	r := b.refused(assign("d", "n1", 1), CodeOversubscribed)
	if !strings.Contains(r.Detail, "the node has 0 of 2 and a prefetch of 2 free") {
		t.Fatalf("detail: %s", r.Detail)
	}
	b.ok(started("a", 1))
	b.ok(complete("a", 1, 0))
	b.ok(assign("d", "n1", 1))

	shrink := join("n1", "p1", 2, 0) // prefetch 0: 4 cores held on 2
	b.refused(shrink, CodeOversubscribed)
	bad := join("n2", "p1", 2, 0)
	bad.Node.Prefetch = -1
	b.refused(bad, CodeInvalid)
}

// Without a prefetch allowance nothing changes: assigned cores never
// exceed the node's cores.
func TestNoPrefetchNoBacklog(t *testing.T) {
	b := newBook(t)
	b.ok(join("n1", "p1", 1, 0))
	b.ok(ingest(spec("a", 1, 0), spec("b", 1, 0)))
	b.ok(assign("a", "n1", 1))
	b.refused(assign("b", "n1", 1), CodeOversubscribed)
	if n := b.node("n1"); n.FreeCores() != 0 || n.IdleCores() != 0 {
		t.Fatalf("%d free, %d idle; want 0, 0", n.FreeCores(), n.IdleCores())
	}
}
