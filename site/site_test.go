package site

import (
	"errors"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

func env(vals map[string]string) func(string) string {
	return func(k string) string { return vals[k] }
}

func TestExamplesLoad(t *testing.T) {
	local, err := Load("../examples/site-local.toml")
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("../examples/shifts.jsonl")
	if local.Name != "local" || local.Slurm.Nodes != 3 || local.Slurm.Walltime.D() != 5*time.Minute ||
		local.Cluster.Voters != 3 || local.Queue != abs || local.Slurm.MaxQueued != 2 {
		t.Errorf("site-local: %+v", local)
	}
	large, err := Parse("../examples/site-large.toml", mustRead(t, "../examples/site-large.toml"), env(map[string]string{"SCRATCH": "/lustre/u"}))
	if err != nil {
		t.Fatal(err)
	}
	if large.Scratch != "/lustre/u/pilot/scratch" || large.Slurm.Overlap.D() != 4*time.Hour || large.Cluster.Voters != 5 ||
		len(large.Functions["nmr-shift"].Modules) != 2 {
		t.Errorf("site-large: %+v", large)
	}
	if _, err := Parse("large.toml", mustRead(t, "../examples/site-large.toml"), env(nil)); err == nil ||
		!strings.Contains(err.Error(), "$SCRATCH is not set") || !strings.Contains(err.Error(), "large.toml:11: scratch") {
		t.Errorf("unset $SCRATCH: %v", err)
	}
}

const minimal = `name = "t"
scratch = "/s"
state_dir = "/st"
[slurm]
walltime = "1h"
`

func TestDefaults(t *testing.T) {
	c, err := Parse("/etc/t.toml", []byte(minimal), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Slurm
	if s.Nodes != 1 || s.Keep != 1 || s.MaxQueued != 1 || s.DrainMargin.D() != 5*time.Minute ||
		s.Overlap.D() != 15*time.Minute || c.Cluster.Voters != 3 {
		t.Errorf("defaults: %+v %+v", s, c.Cluster)
	}
	c, err = Parse("/etc/t.toml", []byte(strings.Replace(minimal, `"1h"`, `"0-02:00:00"`, 1)+"drain_margin = \"1:00\"\n"), env(nil))
	if err != nil || c.Slurm.Walltime.D() != 2*time.Hour || c.Slurm.DrainMargin.D() != time.Minute {
		t.Errorf("Slurm durations: %+v, %v", c, err)
	}
}

func TestStrictErrorsNameFileAndLine(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"unknown top key", minimal + "\n", ""},
		{"typo at top", "name = \"t\"\nscrach = \"/s\"\n" + minimal[11:], `site.toml:2: unknown key "scrach"`},
		{"typo in table", minimal + "partiton = \"x\"\n", `site.toml:6: unknown key "slurm.partiton" (check its spelling; the keys here are partition,`},
		{"unknown table", minimal + "[slurn]\nnodes = 2\n", `site.toml:6: unknown key "slurn"`},
		{"unknown function key", minimal + "[functions.f]\ncommand = [\"x\"]\ncomand = [\"y\"]\n", `site.toml:8: unknown key "functions.f.comand" (a function takes command, env, modules)`},
		{"inline table typo", minimal + "[functions]\nf = { command = [\"x\"], modles = [\"m\"] }\n", `site.toml:7: unknown key "functions.f.modles"`},
		{"wrong type", minimal + "nodes = \"three\"\n", `site.toml:6: `},
		{"syntax", minimal + "nodes = \n", `site.toml:6: `},
		{"bad duration", strings.Replace(minimal, `"1h"`, `"60"`, 1), `site.toml:5: duration "60"`},
		{"voters", minimal + "[cluster]\nvoters = 4\n", `site.toml:7: cluster.voters: 4: want 3 or 5`},
		{"no name", strings.Replace(minimal, `name = "t"`, `name = "a b"`, 1), `site.toml:1: name:`},
		{"drain margin", minimal + "drain_margin = \"2h\"\n", `site.toml:6: slurm.drain_margin: 2h0m0s: want less than the walltime`},
		{"overlap", minimal + "overlap = \"1h\"\n", `slurm.overlap`},
		{"no walltime", strings.Replace(minimal, `walltime = "1h"`, ``, 1), `slurm.walltime: required`},
		{"queue url", minimal + "", ``},
		{"queue scheme", "queue = \"ftp://x/q\"\n" + minimal, `site.toml:1: queue: "ftp://x/q"`},
		{"results scheme", "results = \"gs://b\"\n" + minimal, `results: "gs://b"`},
		{"bind both", minimal + "[cluster]\nbind_interface = \"ib0\"\nbind_addr = \"10.0.0.1\"\n", `not both`},
		{"bind addr", minimal + "[cluster]\nbind_addr = \"node1\"\n", `site.toml:7: cluster.bind_addr: "node1" is not an IP`},
		{"fn placeholder", minimal + "[functions.f]\ncommand = [\"x\", \"{input}\"]\n", `site.toml:7: functions.f.command: "{input}": unknown placeholder {input}`},
		{"fn args inside", minimal + "[functions.f]\ncommand = [\"x\", \"--a={args}\"]\n", `must be a whole argv element`},
		{"fn empty", minimal + "[functions.f]\nmodules = [\"m\"]\n", `functions.f.command: required`},
		{"fn module", minimal + "[functions.f]\ncommand = [\"x\"]\nmodules = [\"a; rm -rf /\"]\n", `functions.f.modules`},
		{"fn env name", minimal + "[functions.f]\ncommand = [\"x\"]\nenv = { \"A-B\" = \"1\" }\n", `"A-B" is not a variable name`},
		{"extra args", minimal + "extra_args = [\"gpus=1\"]\n", `slurm.extra_args: "gpus=1"`},
	}
	for _, c := range cases {
		_, err := Parse("site.toml", []byte(c.doc), env(nil))
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v\nwant one containing %q", c.name, err, c.want)
		}
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	_, err := Parse("s.toml", []byte("name = \"\"\n[slurm]\nnodes = -1\n"), env(nil))
	for _, want := range []string{"s.toml:1: name", "s.toml:3: slurm.nodes", "scratch: required", "state_dir: required", "slurm.walltime"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestResolve(t *testing.T) {
	doc := minimal + `
[functions.shift]
command = ["orca", "{1}.inp", "--cores={cores}", "{args}", "{{literal}}"]
env = { OMP_NUM_THREADS = "{cores}", JOB = "{fn}-{id}", KEEP = "site" }
[functions.bare]
command = ["true"]
`
	c, err := Parse("/sites/t.toml", []byte(doc), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	spec := task.Spec{ID: "m1", Fn: "shift", Args: []string{"CCO", "x y"}, Cores: 4, Env: map[string]string{"KEEP": "task"}}
	argv, envs, err := c.Resolve(spec)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"orca", "CCO.inp", "--cores=4", "CCO", "x y", "{literal}"}; !reflect.DeepEqual(argv, want) {
		t.Errorf("argv = %q, want %q", argv, want)
	}
	if want := map[string]string{"OMP_NUM_THREADS": "4", "JOB": "shift-m1", "KEEP": "task"}; !reflect.DeepEqual(envs, want) {
		t.Errorf("env = %v, want %v", envs, want)
	}

	cmd := task.Spec{ID: "c", Cmd: []string{"echo", "{1}"}, Env: map[string]string{"A": "1"}}
	if argv, envs, err := c.Resolve(cmd); err != nil || !reflect.DeepEqual(argv, cmd.Cmd) || envs["A"] != "1" {
		t.Errorf("a cmd task changed: %q %v %v", argv, envs, err)
	}
	if _, _, err := c.Resolve(task.Spec{ID: "u", Fn: "nope"}); err == nil ||
		!strings.Contains(err.Error(), `site "t" (/sites/t.toml) has no function "nope"; its [functions] are: bare, shift`) {
		t.Errorf("unknown fn: %v", err)
	}
	if _, _, err := c.Resolve(task.Spec{ID: "few", Fn: "shift"}); err == nil || !strings.Contains(err.Error(), "{1} names argument 1, the task has 0") {
		t.Errorf("missing arg: %v", err)
	}
}

func TestResolveLoadsModules(t *testing.T) {
	// A real bash runs the wrapped command; module_init defines a stand-in
	// `module` that records what it was asked to load.
	dir := t.TempDir()
	log := filepath.Join(dir, "modules")
	doc := `module_init = "module() { echo \"$*\" > ` + log + `; }"
` + minimal + `[functions.f]
command = ["printf", "%s|", "{args}"]
modules = ["orca/5.0.4", "PrgEnv-gnu"]
`
	c, err := Parse("t.toml", []byte(doc), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	argv, _, err := c.Resolve(task.Spec{ID: "a", Fn: "f", Args: []string{"a b", "$HOME", "`x`"}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		t.Fatalf("%q: %v", argv, err)
	}
	if string(out) != "a b|$HOME|`x`|" {
		t.Errorf("args went through the shell's parser: %q", out)
	}
	if got := strings.TrimSpace(string(mustRead(t, log))); got != "load orca/5.0.4 PrgEnv-gnu" {
		t.Errorf("module got %q", got)
	}
}

func TestSubmitRequestAndPolicy(t *testing.T) {
	c, err := Load("../examples/site-local.toml")
	if err != nil {
		t.Fatal(err)
	}
	req := c.SubmitRequest("/repo/scripts/sbatch/pilot.sh", "")
	site, _ := filepath.Abs("../examples/site-local.toml")
	if req.Name != "pilot-local" || req.Nodes != 3 || req.Walltime != 5*time.Minute || req.SignalBefore != 90*time.Second ||
		req.Partition != "debug" || req.Env["PILOT_SITE"] != site || req.Env["PILOT_QUEUE"] != c.Queue ||
		req.Output != "/tmp/pilot-local/state/logs/pilot-%j.out" || req.Dir != c.StateDir {
		t.Errorf("request: %+v", req)
	}
	if req := c.SubmitRequest("x", "https://q/c"); req.Env["PILOT_QUEUE"] != "https://q/c" {
		t.Errorf("queue override: %+v", req.Env)
	}
	p := c.LaunchPolicy(2)
	if p.Keep != 2 || p.MaxQueued != 2 || p.Overlap != 2*time.Minute || p.PilotCoreS != 3*8*300 {
		t.Errorf("policy: %+v", p)
	}
}
