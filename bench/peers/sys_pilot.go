package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pilot-hpc/pilot/task"
)

// pilot: `pilot local --nodes 1 --cores-per-node SLOTS` on a JSONL queue;
// one agent whose cores are the slots. Sleeping tasks carry their duration as
// est_s, as a user with estimates would give them.
var pilotSystem = System{
	Name: "pilot",
	Skip: func(Workload) string { return "" },
	Run: func(ctx context.Context, env Env, w Workload) (Outcome, error) {
		queue := filepath.Join(env.Dir, "queue.jsonl")
		err := writeLines(queue, w, func(i int, t Task) string {
			b, _ := json.Marshal(task.Spec{ID: "t" + strconv.Itoa(i), Cmd: env.Argv(i, t), Cores: t.Cores, EstS: t.Dur})
			return string(b)
		})
		if err != nil {
			return Outcome{}, err
		}
		out, secs, capped, err := command(ctx, env, nil, env.Pilot, "local", "--nodes", "1",
			"--cores-per-node", strconv.Itoa(w.Slots), "--queue", queue, "--json")
		if err != nil {
			return Outcome{Wall: secs}, err
		}
		if capped {
			done, err := countLines(filepath.Join(queue+".pilot", "results.jsonl"))
			return Outcome{Wall: secs, Capped: true, Done: done}, err
		}
		var sum struct {
			Done   int     `json:"done"`
			Failed int     `json:"failed"`
			WallS  float64 `json:"wall_s"`
		}
		if err := json.Unmarshal([]byte(out), &sum); err != nil {
			return Outcome{Wall: secs}, fmt.Errorf("pilot local --json printed %q: %w", tail(out), err)
		}
		return Outcome{Wall: secs, Inner: sum.WallS, Done: sum.Done, Failed: sum.Failed}, nil
	},
}

// countLines counts the non-empty lines of a file (the results a capped run
// had written).
func countLines(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, task.MaxLineBytes)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			n++
		}
	}
	return n, sc.Err()
}
