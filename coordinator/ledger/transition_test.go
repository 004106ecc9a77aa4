package ledger

import "testing"

// TestTransitions applies every command to a task in every state: the legal
// ones move it where the table says, the illegal ones are refused with
// their code and leave it where it was.
func TestTransitions(t *testing.T) {
	// cur is the task's current attempt in each setup state.
	cur := map[State]int{Queued: 0, Assigned: 1, Running: 1, Done: 1, Failed: 0}
	type step struct {
		name string
		cmd  func(attempt int) Command
	}
	steps := []step{
		{"assign", func(a int) Command { return assign("a", "n1", a+1) }},
		{"started", func(a int) Command { return started("a", a) }},
		{"complete", func(a int) Command { return complete("a", a, 0) }},
		{"complete-nonzero", func(a int) Command { return complete("a", a, 3) }},
		{"fail-task", func(a int) Command { return fail("a", a, FailTask) }},
		{"fail-infra", func(a int) Command { return fail("a", a, FailInfra) }},
		{"fail-fatal", func(a int) Command { return fail("a", a, FailFatal) }},
		{"requeue", func(int) Command { return requeue("a", 0) }},
		{"acked", func(int) Command { return Acked{At: 8, Tasks: []string{"a"}} }},
		{"flush", func(int) Command { return Flush{At: 9} }},
		{"flush-running", func(int) Command { return Flush{At: 9, Running: true} }},
		{"agent-lost", func(int) Command { return AgentLost{At: 10, Node: "n1"} }},
		{"agent-lost-limit-1", func(int) Command { return AgentLost{At: 10, Node: "n1", CrashLimit: 1} }},
	}
	// want[state][step]: the state after, or a refusal code. "dup" is a
	// duplicate result (counted, not recorded); "keep" is a flush that
	// leaves the task alone.
	type res struct {
		to   State
		code Code
		dup  bool
	}
	want := map[State]map[string]res{
		Queued: {
			"assign": {to: Assigned}, "started": {code: CodeIllegal}, "complete": {code: CodeIllegal},
			"complete-nonzero": {code: CodeIllegal}, "fail-task": {code: CodeIllegal}, "fail-infra": {code: CodeIllegal},
			"fail-fatal": {to: Failed}, "requeue": {code: CodeIllegal}, "acked": {code: CodeIllegal},
			"flush": {to: Removed}, "flush-running": {to: Removed},
			"agent-lost": {to: Queued}, "agent-lost-limit-1": {to: Queued},
		},
		Assigned: {
			"assign": {code: CodeIllegal}, "started": {to: Running}, "complete": {to: Done},
			"complete-nonzero": {to: Queued}, "fail-task": {to: Queued}, "fail-infra": {to: Queued},
			"fail-fatal": {to: Failed}, "requeue": {code: CodeStaleAttempt}, "acked": {code: CodeIllegal},
			"flush": {to: Removed}, "flush-running": {to: Removed},
			// A backlog attempt is never charged a crash: limit 1 requeues it.
			"agent-lost": {to: Queued}, "agent-lost-limit-1": {to: Queued},
		},
		Running: {
			"assign": {code: CodeIllegal}, "started": {code: CodeIllegal}, "complete": {to: Done},
			"complete-nonzero": {to: Queued}, "fail-task": {to: Queued}, "fail-infra": {to: Queued},
			"fail-fatal": {to: Failed}, "requeue": {code: CodeStaleAttempt}, "acked": {code: CodeIllegal},
			"flush": {to: Running}, "flush-running": {to: Removed},
			"agent-lost": {to: Queued}, "agent-lost-limit-1": {to: Failed},
		},
		Done: {
			"assign": {code: CodeIllegal}, "started": {code: CodeIllegal}, "complete": {dup: true},
			"complete-nonzero": {dup: true}, "fail-task": {code: CodeIllegal}, "fail-infra": {code: CodeIllegal},
			"fail-fatal": {code: CodeIllegal}, "requeue": {code: CodeStaleAttempt}, "acked": {to: Removed},
			"flush": {to: Done}, "flush-running": {to: Done},
			"agent-lost": {to: Done}, "agent-lost-limit-1": {to: Done},
		},
		Failed: {
			"assign": {code: CodeIllegal}, "started": {code: CodeIllegal}, "complete": {dup: true},
			"complete-nonzero": {dup: true}, "fail-task": {code: CodeIllegal}, "fail-infra": {code: CodeIllegal},
			"fail-fatal": {code: CodeIllegal}, "requeue": {code: CodeIllegal}, "acked": {to: Removed},
			"flush": {to: Failed}, "flush-running": {to: Failed},
			"agent-lost": {to: Failed}, "agent-lost-limit-1": {to: Failed},
		},
	}
	for _, from := range States {
		for _, st := range steps {
			w, ok := want[from][st.name]
			if !ok {
				t.Fatalf("no expectation for %s on %s", st.name, from)
			}
			t.Run(from.String()+"/"+st.name, func(t *testing.T) {
				b := into(t, from)
				before := b.task("a")
				out := b.do(st.cmd(cur[from]))
				after, present := b.l.View().Task("a")
				switch {
				case w.dup:
					if len(out.Duplicates) != 1 || b.l.Counts().Duplicates != 1 || len(out.Refused) != 0 {
						t.Fatalf("want a counted duplicate, got %+v", out)
					}
					if after.Result != before.Result {
						t.Fatal("a duplicate replaced the recorded result")
					}
				case w.code != "":
					if len(out.Refused) != 1 || out.Refused[0].Code != w.code || out.Refused[0].Task != "a" {
						t.Fatalf("want refusal %s, got %+v", w.code, out.Refused)
					}
					if !present || after.State != from || after.Attempt != before.Attempt {
						t.Fatalf("a refused command changed the task: %+v", after)
					}
				case w.to == Removed:
					if present || out.Err() != nil {
						t.Fatalf("want the task removed, it is %+v (%v)", after, out.Err())
					}
				default:
					if !present || after.State != w.to || out.Err() != nil {
						t.Fatalf("want %s, got %+v (%v)", w.to, after, out.Err())
					}
				}
				if w.to != Removed && w.to != from && w.code == "" && !w.dup && !Transition(from, w.to) {
					t.Fatalf("%s → %s happened but the table forbids it", from, w.to)
				}
			})
		}
	}
}

func TestTransitionTableShape(t *testing.T) {
	for _, s := range []State{Done, Failed} {
		for _, to := range States {
			if Transition(s, to) {
				t.Errorf("a final state moves to %s", to)
			}
		}
		if !Transition(s, Removed) {
			t.Errorf("%s cannot be acked", s)
		}
	}
	if Transition(0, Queued) || Transition(Queued, 0) || Transition(99, Queued) {
		t.Error("an invalid state has a transition")
	}
	if Transition(Queued, Running) {
		t.Error("a queued task skips assignment")
	}
	if !Transition(Queued, Done) {
		t.Error("a requeued attempt's late result cannot be recorded")
	}
}
