package task

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name, line, wantErr string
	}{
		{"minimal", `{"id":"a","cmd":["true"]}`, ""},
		{"fn", `{"id":"mol-1","fn":"nmr-shift","args":["CCO"],"cores":8}`, ""},
		{"unknown field", `{"id":"a","cmd":["true"],"coress":2}`, `unknown field "coress"`},
		{"missing id", `{"cmd":["true"]}`, `"id" is required`},
		{"escaping id", `{"id":"../../etc/passwd","cmd":["true"]}`, `must match`},
		{"dotdot id", `{"id":"..","cmd":["true"]}`, `not allowed`},
		{"no cmd", `{"id":"a"}`, `needs either`},
		{"both", `{"id":"a","cmd":["x"],"fn":"f"}`, `not both`},
		{"args without fn", `{"id":"a","cmd":["x"],"args":["y"]}`, `goes with "fn"`},
		{"negative cores", `{"id":"a","cmd":["x"],"cores":-1}`, `"cores"`},
		{"wrong type", `{"id":"a","cmd":"x"}`, `field "cmd"`},
		{"garbage", `{"id":`, `not valid JSON`},
		{"trailing", `{"id":"a","cmd":["x"]} {}`, `text after`},
		{"big input", `{"id":"a","cmd":["x"],"input":"` + strings.Repeat("x", MaxInputBytes+1) + `"}`, `"input"`},
		{"nul arg", `{"id":"a","cmd":["x","a\u0000b"]}`, `NUL`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse([]byte(c.line))
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if s.Cores < 1 || s.MaxAttempts < 1 {
					t.Fatalf("defaults not applied: %+v", s)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func TestDigestIgnoresResourcesNotContent(t *testing.T) {
	a := Spec{ID: "a", Cmd: []string{"x", "y"}, Env: map[string]string{"A": "1", "B": "2"}}
	b := Spec{ID: "b", Cmd: []string{"x", "y"}, Env: map[string]string{"B": "2", "A": "1"}, Cores: 8}
	if a.Digest() != b.Digest() {
		t.Fatal("same content, different digest")
	}
	c := Spec{ID: "a", Cmd: []string{"xy"}, Env: a.Env}
	if a.Digest() == c.Digest() {
		t.Fatal("argv concatenation collides")
	}
	d := a
	d.CacheKey = "v2"
	if a.Digest() == d.Digest() {
		t.Fatal("cache_key ignored")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"id":"a","cmd":["true"]}`))
	f.Add([]byte(`{"id":"m","fn":"f","args":["1"],"env":{"K":"V"}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		s, err := Parse(line)
		if err != nil {
			return
		}
		if ValidateID(s.ID) != nil || s.Cores < 1 || len(s.Input) > MaxInputBytes {
			t.Fatalf("accepted an invalid spec: %+v", s)
		}
	})
}
