package ledger

import (
	"strings"
	"testing"
)

// CheckInvariants compares each index with the records entry by entry; each
// corruption below (a stale copy of a record, an entry missing, one too
// many, one under the wrong key) must be reported.
func TestCheckInvariantsFindsCorruption(t *testing.T) {
	good := corruptionBook(t)
	cases := []struct {
		name    string
		corrupt func(s *state)
		want    string
	}{
		{"stale running record", func(s *state) {
			x := s.byState[Running].txn()
			x.Insert("a", staleCopy(s, "a"))
			s.byState[Running] = x.commit()
		}, `the running index holds task "a"`},
		{"assigned task not indexed", func(s *state) {
			x := s.byState[Assigned].txn()
			x.Delete("c")
			s.byState[Assigned] = x.commit()
		}, `task "c" is assigned but not indexed as assigned`},
		{"task in two states", func(s *state) {
			x := s.byState[Running].txn()
			t, _ := s.tasks.Get("b")
			x.Insert("b", t)
			s.byState[Running] = x.commit()
		}, `the running index holds task "b"`},
		{"stale queue entry", func(s *state) {
			t, _ := s.tasks.Get("e")
			x := s.queue.txn()
			x.Insert(t.QueueSeq, staleCopy(s, "e"))
			s.queue = x.commit()
		}, `the queue holds task "e"`},
		{"queued task missing from the queue", func(s *state) {
			t, _ := s.tasks.Get("e")
			x := s.queue.txn()
			x.Delete(t.QueueSeq)
			s.queue = x.commit()
		}, `task "e" is queued but not at its queue position`},
		{"node entry missing", func(s *state) {
			x := s.byNode.txn()
			x.Delete(nodeKey("n1", "a"))
			s.byNode = x.commit()
		}, `the node index holds 2 entries for 3 assigned and running tasks`},
		{"node entry stale", func(s *state) {
			x := s.byNode.txn()
			x.Insert(nodeKey("n1", "c"), staleCopy(s, "c"))
			s.byNode = x.commit()
		}, `the node index holds task "c" on node "n1"`},
		{"node entry under another node", func(s *state) {
			t, _ := s.tasks.Get("b")
			x := s.byNode.txn()
			x.Delete(nodeKey("n2", "b"))
			x.Insert(nodeKey("n1", "b"), t)
			s.byNode = x.commit()
		}, `the node index holds task "b" on node "n2" under key "n1\x00b"`},
		{"task on a node the ledger does not hold", func(s *state) {
			x := s.nodes.txn()
			x.Delete("n2")
			s.nodes = x.commit()
		}, `task "b" is on node "n2", which the ledger does not hold`},
	}
	for _, c := range cases {
		s := *good
		c.corrupt(&s)
		err := View{s: &s}.CheckInvariants()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if err := (View{s: good}).CheckInvariants(); err != nil {
		t.Fatalf("the uncorrupted state: %v", err)
	}
}

// corruptionBook is the state the corruption tests break: two nodes, five
// tasks, three assigned, one running.
func corruptionBook(t *testing.T) *state {
	t.Helper()
	b := newBook(t)
	b.ok(join("n1", "p1", 8, 1024))
	b.ok(join("n2", "p1", 8, 1024))
	b.ok(ingest(spec("a", 2, 100), spec("b", 2, 100), spec("c", 1, 10), spec("d", 1, 10), spec("e", 1, 10)))
	b.ok(Assign{At: 3, Items: []Assignment{{Task: "a", Node: "n1", Attempt: 1}, {Task: "b", Node: "n2", Attempt: 1}, {Task: "c", Node: "n1", Attempt: 1}}})
	b.ok(Started{At: 4, Items: []AttemptRef{{Task: "a", Attempt: 1}}})
	return b.l.cur.Load()
}

// staleCopy is a copy of a task's record in s, to corrupt without
// touching s.
func staleCopy(s *state, id string) *Task {
	t, _ := s.tasks.Get(id)
	c := *t
	return &c
}
