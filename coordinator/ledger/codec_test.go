package ledger

import (
	"bytes"
	"testing"

	"github.com/pilot-hpc/pilot/task"
)

// FuzzDecode: no entry makes Decode panic; whatever decodes re-encodes to
// the same command, and applying it keeps the ledger's invariants.
func FuzzDecode(f *testing.F) {
	seeds := []Command{
		Ingest{At: 1, Tasks: []Leased{{Spec: task.Spec{ID: "a", Cmd: []string{"x"}, Env: map[string]string{"K": "V"}}, Lease: "l"}}},
		Assign{At: 2, Items: []Assignment{{Task: "a", Node: "n", Attempt: 1}}},
		Complete{At: 3, Items: []Completion{{Task: "a", Attempt: 1, Result: task.Result{Value: []byte(`1`)}}}},
		Fail{At: 4, Items: []Failure{{Task: "a", Attempt: 1, Class: FailTask}}},
		AgentJoined{At: 5, Node: NodeInfo{ID: "n", Cores: 4}},
		AgentLost{At: 6, Node: "n"},
		Flush{At: 7, Running: true},
		Batch{Cmds: []Command{Acked{At: 8, Tasks: []string{"a"}}, PilotDraining{At: 9, Pilot: "p"}}},
	}
	for _, c := range seeds {
		data, err := Encode(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Encode(cmd)
		if err != nil {
			t.Fatalf("a decoded %s does not encode: %v", cmd.Type(), err)
		}
		cmd2, err := Decode(again)
		if err != nil {
			t.Fatalf("a re-encoded %s does not decode: %v", cmd.Type(), err)
		}
		third, _ := Encode(cmd2)
		if !bytes.Equal(again, third) {
			t.Fatalf("%s does not survive a round trip", cmd.Type())
		}
		l := New()
		l.ApplyCommand(1, AgentJoined{At: 1, Node: NodeInfo{ID: "n", Cores: 4}})
		l.Apply(2, data)
		if err := l.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
	})
}
