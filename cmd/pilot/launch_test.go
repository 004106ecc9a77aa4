package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLaunchRefusesBadSetup runs 'pilot launch' as a process on setups it
// must refuse before it submits anything; the real runs are in e2e/slurm.
func TestLaunchRefusesBadSetup(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := "name = \"t\"\nscratch = \"s\"\nstate_dir = \"st\"\n[slurm]\nwalltime = \"10m\"\n"
	site := write("site.toml", good)
	typo := write("typo.toml", good+"kep = 2\n")
	script := write("pilot.sh", "#!/bin/sh\n")
	queue := write("tasks.jsonl", "")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"launch"}, exitUsage, "--site is required"},
		{[]string{"launch", "--site", site, "--every", "0s"}, exitUsage, "give a positive interval"},
		{[]string{"launch", "--site", typo}, exitUserError, "typo.toml:6"},
		{[]string{"launch", "--site", site, "--script", script}, exitUsage, "no queue: give --queue"},
		{[]string{"launch", "--site", site, "--queue", queue, "--script", filepath.Join(dir, "none.sh")}, exitUserError, "batch script"},
		{[]string{"launch", "--site", site, "--queue", filepath.Join(dir, "none.jsonl"), "--script", script}, exitUserError, "'pilot submit' creates it"},
	}
	for _, c := range cases {
		_, stderr, code := runSubmitCLI(t, "", c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("pilot %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), code, stderr, c.code, c.want)
		}
	}
}
