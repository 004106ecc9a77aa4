package pilot

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestStopPilotsCancelsSlurmJobsOnly runs --stop-pilots' scancel against a
// stand-in scancel on PATH that records its arguments.
func TestStopPilotsCancelsSlurmJobsOnly(t *testing.T) {
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	script := "#!/bin/sh\necho \"$@\" >> " + args + "\n"
	if err := os.WriteFile(filepath.Join(dir, "scancel"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	ctx := context.Background()
	pilots := []PilotStatus{{ID: "local-0"}, {ID: "4242"}, {ID: "77_3"}, {ID: ""}}
	got, err := StopSlurmPilots(ctx, pilots)
	if err != nil || !slices.Equal(got, []string{"4242", "77_3"}) {
		t.Fatalf("cancelled %v, %v", got, err)
	}
	b, err := os.ReadFile(args)
	if err != nil || strings.TrimSpace(string(b)) != "4242 77_3" {
		t.Fatalf("scancel ran with %q, %v", b, err)
	}
	if got, err := StopSlurmPilots(ctx, pilots[:1]); err != nil || got != nil {
		t.Fatalf("no Slurm pilot: %v, %v", got, err)
	}
}
