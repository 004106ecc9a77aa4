package ledger

import (
	"strings"
	"testing"
)

// CheckTouched finds each corruption of a task or node it is told about,
// and a count that disagrees with an index whatever it is told.
func TestCheckTouchedFindsCorruption(t *testing.T) {
	good := corruptionBook(t)
	cases := []struct {
		name         string
		tasks, nodes []string
		corrupt      func(s *state)
		want         string
	}{
		{"stale running record", []string{"a"}, nil, func(s *state) {
			x := s.byState[Running].txn()
			x.Insert("a", staleCopy(s, "a"))
			s.byState[Running] = x.commit()
		}, `task "a" is running but not indexed as running`},
		{"task in two states", []string{"b"}, nil, func(s *state) {
			x := s.byState[Running].txn()
			x.Insert("b", staleCopy(s, "b"))
			y := s.byState[Assigned].txn()
			y.Delete("c")
			s.byState[Running], s.byState[Assigned] = x.commit(), y.commit()
		}, `task "b" is assigned but the running index has it too`},
		{"queued task missing from the queue", []string{"e"}, nil, func(s *state) {
			t, _ := s.tasks.Get("e")
			x := s.queue.txn()
			x.Delete(t.QueueSeq)
			s.queue = x.commit()
		}, `task "e" is queued but not at its queue position`},
		{"a removed task still indexed", []string{"d"}, nil, func(s *state) {
			t, _ := s.tasks.Get("d")
			x := s.tasks.txn()
			x.Delete("d")
			y := s.queue.txn()
			y.Delete(t.QueueSeq)
			s.tasks, s.queue = x.commit(), y.commit()
			s.counts.Queued--
			z := s.byState[Failed].txn()
			z.Insert("d", t)
			s.byState[Failed] = z.commit()
			s.counts.Failed++
			w := s.tasks.txn()
			w.Insert("zz", t) // keeps the record count in step
			s.tasks = w.commit()
		}, `task "d" is not held but the failed index has it`},
		{"node entry stale", nil, []string{"n1"}, func(s *state) {
			x := s.byNode.txn()
			x.Insert(nodeKey("n1", "c"), staleCopy(s, "c"))
			s.byNode = x.commit()
		}, `the node index holds task "c" on node "n1", which its record does not say`},
		{"node usage off", []string{"b"}, nil, func(s *state) {
			n, _ := s.nodes.Get("n2")
			c := *n
			c.UsedCores++
			x := s.nodes.txn()
			x.Insert("n2", &c)
			s.nodes = x.commit()
		}, `node "n2" records 3 cores`},
		{"count against an index", nil, nil, func(s *state) {
			s.counts.Assigned++
		}, `counts say 3 assigned; the assigned index holds 2`},
	}
	for _, c := range cases {
		s := *good
		c.corrupt(&s)
		err := View{s: &s}.CheckTouched(c.tasks, c.nodes)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if err := (View{s: good}).CheckTouched([]string{"a", "b", "c", "d", "e", "gone"}, []string{"n1", "n2", "n9"}); err != nil {
		t.Fatalf("the uncorrupted state: %v", err)
	}
}
