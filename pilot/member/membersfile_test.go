package member

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMembersFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "members")
	got, err := ReadMembersFile(path)
	if err != nil || got != nil {
		t.Fatalf("missing file: %v %v", got, err)
	}
	addrs := []string{"10.0.0.1:7946", "[::1]:7946"}
	if err := WriteMembersFile(path, addrs, "node-a", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if got, err = ReadMembersFile(path); err != nil || !slices.Equal(got, addrs) {
		t.Fatalf("got %v %v", got, err)
	}
	if err := WriteMembersFile(path, addrs[:1], "node-b", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if got, _ = ReadMembersFile(path); !slices.Equal(got, addrs[:1]) {
		t.Fatalf("rewrite: %v", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	os.WriteFile(path, []byte("10.0.0.1:7946\nnot an address\n"), 0o644)
	if _, err := ReadMembersFile(path); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad line: %v", err)
	}
}
