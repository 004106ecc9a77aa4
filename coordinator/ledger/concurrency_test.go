package ledger

import (
	"fmt"
	"sync"
	"testing"

	"github.com/pilot-hpc/pilot/task"
)

// TestReadersDuringApply runs queries, hashes and snapshots while entries
// are applied; -race reports any shared write, and every view a reader
// takes must be internally consistent.
func TestReadersDuringApply(t *testing.T) {
	l := New()
	l.ApplyCommand(1, AgentJoined{At: 1, Node: NodeInfo{ID: "n", Cores: 1000}})
	done := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				v := l.View()
				if err := v.CheckInvariants(); err != nil {
					t.Errorf("a view taken during Apply: %v", err)
					return
				}
				c := v.Counts()
				if got := len(v.Queued(0)) + len(v.OnNode("n")) + len(v.InState(Done)); got != c.Queued+c.Assigned+c.Running+c.Done {
					t.Errorf("view at %d lists %d tasks, counts say %+v", v.Applied(), got, c)
					return
				}
				_ = v.Hash()
			}
		}()
	}
	index := uint64(1)
	for g := 0; g < 60; g++ {
		var ing Ingest
		var asg Assign
		var comp Complete
		for j := 0; j < 20; j++ {
			id := fmt.Sprintf("g%03d-%02d", g, j)
			ing.Tasks = append(ing.Tasks, Leased{Spec: task.Spec{ID: id, Cmd: []string{"x"}}})
			asg.Items = append(asg.Items, Assignment{Task: id, Node: "n", Attempt: 1})
			comp.Items = append(comp.Items, Completion{Task: id, Attempt: 1})
		}
		for _, c := range []Command{ing, asg, comp} {
			index++
			if out := l.ApplyCommand(index, c); out.Err() != nil {
				t.Fatal(out.Err())
			}
		}
	}
	close(done)
	wg.Wait()
}
