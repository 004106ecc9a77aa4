package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilot-hpc/pilot/scratchcache"
	"github.com/pilot-hpc/pilot/task"
)

// runPilot runs the root command with args and returns stdout and the exit code.
func runCachePilot(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&bytes.Buffer{})
	rootCmd.SetArgs(args)
	t.Cleanup(func() { rootCmd.SetOut(nil); rootCmd.SetErr(nil); rootCmd.SetArgs(nil) })
	err := rootCmd.ExecuteContext(context.Background())
	var code int
	if err != nil {
		code = report(err)
	}
	return out.String(), code
}

func TestCacheCommands(t *testing.T) {
	root := t.TempDir()
	c, err := scratchcache.New(scratchcache.Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	var sealed []*scratchcache.Sealed
	for _, id := range []string{"mol-1", "mol-2"} {
		_, l, err := c.Open(id, task.Spec{ID: id, Cmd: []string{"shift", id}}.Digest(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(l.OutDir(), "out.txt"), []byte("H1 7.26\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := l.Seal(context.Background(), []byte(`{"ppm":7.26}`))
		if err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, s)
	}
	c.Close() // the sealed entries' directories leave their seals' side

	out, code := runCachePilot(t, "cache", "ls", "--root", root, "--json")
	var infos []scratchcache.EntryInfo
	if code != 0 || json.Unmarshal([]byte(out), &infos) != nil || len(infos) != 2 || infos[0].State != scratchcache.StateSealed {
		t.Fatalf("ls --json: exit %d, %s", code, out)
	}
	if out, code = runCachePilot(t, "cache", "du", "--root", root, "--json=false"); code != 0 || !strings.Contains(out, "sealed         2 entries") {
		t.Fatalf("du: exit %d, %q", code, out)
	}

	// Damage one entry: verify exits 1, then --quarantine moves it aside.
	damaged := sealed[0].Path("out.txt")
	if err := os.Chmod(damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(damaged, []byte("H1 7.27\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code = runCachePilot(t, "cache", "verify", "--root", root, "--quarantine=false"); code != exitUserError || !strings.Contains(out, "1 damaged") {
		t.Fatalf("verify of a damaged cache: exit %d, %q", code, out)
	}
	if out, code = runCachePilot(t, "cache", "verify", "--root", root, "--quarantine"); code != 0 {
		t.Fatalf("verify --quarantine: exit %d, %q", code, out)
	}

	if _, code = runCachePilot(t, "cache", "gc", "--root", root, "--quota", "ten"); code != exitUsage {
		t.Fatalf("gc with a bad quota: exit %d, want %d", code, exitUsage)
	}
	out, code = runCachePilot(t, "cache", "gc", "--root", root, "--quota", "0.001K", "--json")
	var rep scratchcache.GCReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Evicted) != 1 {
		t.Fatalf("gc: exit %d, %s", code, out)
	}
	if _, code = runCachePilot(t, "cache", "ls", "--root", filepath.Join(root, "missing")); code != exitUserError {
		t.Fatalf("ls of a missing root: exit %d", code)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1024": 1024, "1K": 1024, "1.5M": 3 << 19, "500G": 500 << 30, "2t": 2 << 40} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "-1", "ten"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}
