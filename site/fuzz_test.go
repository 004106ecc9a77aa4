package site

import (
	"os"
	"strings"
	"testing"

	"github.com/pilot-hpc/pilot/task"
)

func FuzzParse(f *testing.F) {
	for _, p := range []string{"../examples/site-local.toml", "../examples/site-large.toml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(minimal))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Parse("f.toml", doc, func(string) string { return "/x" })
		if err != nil {
			return
		}
		if c.Slurm.Walltime.D() <= 0 || c.Slurm.DrainMargin >= c.Slurm.Walltime || (c.Cluster.Voters != 3 && c.Cluster.Voters != 5) {
			t.Fatalf("accepted %+v", c)
		}
		for name := range c.Functions {
			// An accepted template resolves, unless the task lacks an
			// argument it names.
			args := make([]string, 64)
			if _, _, err := c.Resolve(task.Spec{ID: "x", Fn: name, Args: args, Cores: 1}); err != nil &&
				!strings.Contains(err.Error(), "names argument") {
				t.Fatalf("function %q was accepted but does not resolve: %v", name, err)
			}
		}
	})
}
