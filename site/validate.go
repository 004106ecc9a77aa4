package site

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Defaults for what a site config may leave out.
const (
	DefaultNodes       = 1
	DefaultKeep        = 1
	DefaultVoters      = 3
	DefaultDrainMargin = 5 * time.Minute
	// MaxSignalMargin is the largest --signal=B:USR1@secs Slurm accepts.
	MaxSignalMargin = 65535 * time.Second
)

var (
	namePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	envPattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// validator collects every problem of a file, each with its line.
type validator struct {
	path, doc string
	problems  []string
}

func (v *validator) bad(key, format string, a ...any) {
	line := keyLine(v.doc, toml.Key(strings.Split(key, ".")))
	where := v.path
	if line > 0 {
		where = fmt.Sprintf("%s:%d", v.path, line)
	}
	v.problems = append(v.problems, fmt.Sprintf("%s: %s: %s", where, key, fmt.Sprintf(format, a...)))
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(v.problems, "; "))
}

// expand replaces $VARIABLES in the path-like fields and anchors relative
// paths at the config file's directory.
func (c *Config) expand(v *validator, getenv func(string) string, base string) {
	fields := []struct {
		key  string
		dst  *string
		path bool
	}{
		{"scratch", &c.Scratch, true}, {"state_dir", &c.StateDir, true}, {"queue", &c.Queue, true},
		{"results", &c.Results, true}, {"slurm.script", &c.Slurm.Script, true}, {"slurm.account", &c.Slurm.Account, false},
	}
	for _, f := range fields {
		var unset []string
		*f.dst = os.Expand(*f.dst, func(name string) string {
			val := getenv(name)
			if val == "" {
				unset = append(unset, "$"+name)
			}
			return val
		})
		if len(unset) > 0 {
			v.bad(f.key, "%s is not set in the environment; set it or write the value out", strings.Join(unset, ", "))
			continue
		}
		if f.path && *f.dst != "" && !strings.Contains(*f.dst, "://") && !filepath.IsAbs(*f.dst) {
			*f.dst = filepath.Join(base, *f.dst)
		}
	}
}

func (c *Config) defaults() {
	s := &c.Slurm
	if s.Nodes == 0 {
		s.Nodes = DefaultNodes
	}
	if s.Keep == 0 {
		s.Keep = DefaultKeep
	}
	if s.MaxQueued == 0 {
		s.MaxQueued = s.Keep
	}
	if s.DrainMargin == 0 {
		s.DrainMargin = Duration(min(DefaultDrainMargin, s.Walltime.D()/4))
	}
	if s.Overlap == 0 {
		s.Overlap = s.Walltime / 4
	}
	if c.Cluster.Voters == 0 {
		c.Cluster.Voters = DefaultVoters
	}
}

func (c *Config) validate(v *validator) {
	if !namePattern.MatchString(c.Name) {
		v.bad("name", "%q: want 1-64 of [A-Za-z0-9._-]; it names the site's pilot jobs", c.Name)
	}
	if c.Scratch == "" {
		v.bad("scratch", "required: the directory under which each task gets its scratch directory")
	}
	if c.StateDir == "" {
		v.bad("state_dir", "required: a directory on a filesystem every node shares (members file, checkpoints)")
	}
	if q := c.Queue; strings.Contains(q, "://") {
		if u, err := url.Parse(q); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.bad("queue", "%q: want a JSONL file path or an http(s):// URL of 'pilot serve'", q)
		}
	}
	if r := c.Results; strings.Contains(r, "://") {
		if u, err := url.Parse(r); err != nil || (u.Scheme != "file" && u.Scheme != "s3") {
			v.bad("results", "%q: want a directory, file:///dir or s3://bucket/prefix", r)
		}
	}
	s := c.Slurm
	if s.Nodes < 1 {
		v.bad("slurm.nodes", "%d: want at least 1", s.Nodes)
	}
	if s.Walltime.D() < time.Minute {
		v.bad("slurm.walltime", "required, at least 1m (Slurm's limits are whole minutes): how long each pilot runs")
	}
	if s.Keep < 1 || s.MaxQueued < 1 {
		v.bad("slurm.keep", "want at least 1 pilot kept alive and 1 queued (keep %d, max_queued %d)", s.Keep, s.MaxQueued)
	}
	if s.DrainMargin.D() >= s.Walltime.D() || s.DrainMargin.D() > MaxSignalMargin {
		v.bad("slurm.drain_margin", "%s: want less than the walltime (%s) and at most %s",
			s.DrainMargin.D(), s.Walltime.D(), MaxSignalMargin)
	}
	if s.Overlap.D() >= s.Walltime.D() {
		v.bad("slurm.overlap", "%s: want less than the walltime (%s): a successor is queued this long before a pilot ends",
			s.Overlap.D(), s.Walltime.D())
	}
	for _, a := range s.ExtraArgs {
		if !strings.HasPrefix(a, "-") {
			v.bad("slurm.extra_args", "%q: want sbatch options (starting with -), one per element", a)
		}
	}
	cl := c.Cluster
	if cl.BindInterface != "" && cl.BindAddr != "" {
		v.bad("cluster.bind_addr", "give bind_interface or bind_addr, not both")
	}
	if cl.BindAddr != "" && net.ParseIP(cl.BindAddr) == nil {
		v.bad("cluster.bind_addr", "%q is not an IP address", cl.BindAddr)
	}
	if cl.Voters != 3 && cl.Voters != 5 {
		v.bad("cluster.voters", "%d: want 3 or 5", cl.Voters)
	}
	if c.Resources.Cores < 0 || c.Resources.MemMB < 0 {
		v.bad("resources", "cores and mem_mb must not be negative (0 means detect)")
	}
	for name, fn := range c.Functions {
		fn.validate(v, name)
	}
}

func (fn Function) validate(v *validator, name string) {
	key := "functions." + name
	if !namePattern.MatchString(name) {
		v.bad(key, "function name %q: want 1-64 of [A-Za-z0-9._-]", name)
	}
	if len(fn.Command) == 0 || fn.Command[0] == "" {
		v.bad(key+".command", "required: the argv template, like [\"orca\", \"{1}\"]")
	}
	for _, arg := range fn.Command {
		if err := checkTemplate(arg, true); err != nil {
			v.bad(key+".command", "%q: %v", arg, err)
		}
	}
	for k, val := range fn.Env {
		if !envPattern.MatchString(k) {
			v.bad(key+".env", "%q is not a variable name", k)
		}
		if err := checkTemplate(val, false); err != nil {
			v.bad(key+".env", "%s=%q: %v", k, val, err)
		}
	}
	for _, m := range fn.Modules {
		if m == "" || strings.ContainsAny(m, " \t\n;&|`$'\"\\") {
			v.bad(key+".modules", "%q: want a module name like \"orca/5.0.4\"", m)
		}
	}
}
