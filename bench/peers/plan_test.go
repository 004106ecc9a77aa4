package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPlanAlternatesAndSkips(t *testing.T) {
	sz := Sizes{Noop: 3, Pack: 50, Deep: 20000}
	pack, _ := Generate("pack", 1, sz)
	deep, _ := Generate("deep", 1, sz)
	syss := []System{pilotSystem, xargsSystem, tspSystem}
	p := NewPlan(Config{Rounds: 3, DeepRounds: 2, Limit: time.Minute, FloorLimit: time.Minute}, []Workload{pack, deep}, syss)
	want := []string{
		"1:pack/pilot", "1:pack/tsp", "1:deep/pilot", "1:deep/xargs", // round 1: pilot xargs tsp
		"2:pack/tsp", "2:pack/pilot", "2:deep/xargs", "2:deep/pilot", // round 2: xargs tsp pilot
		"3:pack/tsp", "3:pack/pilot", // round 3: tsp pilot xargs; no deep
	}
	if got := runNames(p); !slices.Equal(got, want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
	if len(p.Skipped) != 2 {
		t.Errorf("skipped %v, want xargs on pack and tsp on deep", p.Skipped)
	}
}

// TestPlanFloorRounds: after the rounds, noop again for pilot and xargs
// alone, alternating, and for no other system or workload.
func TestPlanFloorRounds(t *testing.T) {
	sz := Sizes{Noop: 3, Pack: 5}
	noop, _ := Generate("noop", 1, sz)
	pack1c, _ := Generate("pack1c", 1, sz)
	syss := []System{pilotSystem, tspSystem, xargsSystem}
	p := NewPlan(Config{Rounds: 1, FloorRounds: 2, Limit: time.Minute, FloorLimit: time.Minute}, []Workload{noop, pack1c}, syss)
	want := []string{
		"1:noop/pilot", "1:noop/tsp", "1:noop/xargs", "1:pack1c/pilot", "1:pack1c/tsp", "1:pack1c/xargs",
		"2:noop/xargs", "2:noop/pilot", "3:noop/pilot", "3:noop/xargs",
	}
	if got := runNames(p); !slices.Equal(got, want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
}

// runNames lists a plan's runs as "round:workload/system".
func runNames(p Plan) []string {
	var names []string
	for _, r := range p.Runs {
		names = append(names, fmt.Sprintf("%d:%s/%s", r.Round, r.W.Name, r.S.Name))
	}
	return names
}

// TestXargsStampsPack runs a small pack1c through xargs -P with the real
// stamp helper and reads the makespan back.
func TestXargsStampsPack(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc to build the stamp helper")
	}
	helpers := t.TempDir()
	if out, err := exec.Command("gcc", "-O2", "-o", filepath.Join(helpers, "stamp"), "helpers/stamp.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v: %s", err, out)
	}
	w, _ := Generate("pack1c", 3, Sizes{Pack: 8})
	dir := t.TempDir()
	env := Env{Dir: dir, Helpers: helpers, Limit: time.Minute}
	o, err := xargsSystem.Run(context.Background(), env, w)
	if err != nil || o.Done != 8 || o.Capped {
		t.Fatalf("xargs: %+v, %v", o, err)
	}
	n, span, err := Span(env.StampFile())
	if err != nil || n != 8 {
		t.Fatalf("stamps: %d, %v; want 8", n, err)
	}
	if lb := w.LowerBound(); span < lb || span > o.Wall {
		t.Errorf("makespan %.3f s: below the lower bound %.3f s or above the command's %.3f s", span, lb, o.Wall)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 { // args and stamps; the output files are gone
		t.Errorf("left in the run's directory: %v", ents)
	}
}

// A relative -pilot works from the runs' own directories: make
// bench-peers passes bin/pilot.
func TestBinaryPathIsAbsolute(t *testing.T) {
	got, err := binaryPath("bin/pilot")
	if err != nil || !filepath.IsAbs(got) || !strings.HasSuffix(got, "/bin/pilot") {
		t.Fatalf("bin/pilot -> %q, %v", got, err)
	}
	if got, _ := binaryPath("pilot"); got != "pilot" {
		t.Fatalf("a bare name is left to PATH, got %q", got)
	}
}
