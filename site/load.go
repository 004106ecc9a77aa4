package site

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// ErrInvalid is wrapped by every error about a config file's content, so
// callers can tell a bad file (fix it) from one they could not read.
var ErrInvalid = errors.New("invalid site config")

// tomlLine picks the line and key out of the decoder's type errors.
var tomlLine = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// Load reads, checks and completes the site config at path. $VARIABLES
// expand from the environment.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("site config: %w", err)
	}
	return Parse(path, data, os.Getenv)
}

// Parse is Load on data already read; path names it in errors and anchors
// relative paths; getenv expands $VARIABLES.
func Parse(path string, data []byte, getenv func(string) string) (*Config, error) {
	doc := string(data)
	var c Config
	md, err := toml.Decode(doc, &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%w: %s:%d: %s", ErrInvalid, path, pe.Position.Line, pe.Message)
		}
		if m := tomlLine.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%w: %s:%s: %s: %s", ErrInvalid, path, m[1], m[2], m[3])
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		var msgs []string
		for _, k := range undecoded {
			if parentUndecoded(k, undecoded) {
				continue // report a misspelt table once, not each key in it
			}
			msgs = append(msgs, fmt.Sprintf("%s:%d: unknown key %q%s", path, keyLine(doc, k), k.String(), knownHint(k)))
		}
		sort.Strings(msgs)
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(msgs, "; "))
	}
	c.Path = path
	v := &validator{path: path, doc: doc}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("site config %s: %w", path, err)
	}
	c.expand(v, getenv, base)
	c.defaults()
	c.validate(v)
	if err := v.err(); err != nil {
		return nil, err
	}
	return &c, nil
}

func parentUndecoded(k toml.Key, all []toml.Key) bool {
	for _, o := range all {
		if len(o) < len(k) && o.String() == k[:len(o)].String() {
			return true
		}
	}
	return false
}

// keyLine finds the line where a dotted key is set: the line of its last
// part inside its table's section (or an inline table on the parent's
// line). 0 when it cannot tell.
func keyLine(doc string, key toml.Key) int {
	lines := strings.Split(doc, "\n")
	table := ""
	want := strings.Join(key[:len(key)-1], ".")
	last := key[len(key)-1]
	fallback := 0
	for i, raw := range lines {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "[") {
			name := strings.Trim(strings.SplitN(line, "#", 2)[0], "[] \t")
			table = unquoteKey(name)
			if table == strings.Join(key, ".") {
				return i + 1
			}
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = unquoteKey(strings.TrimSpace(k))
		full := k
		if table != "" {
			full = table + "." + k
		}
		switch {
		case full == key.String():
			return i + 1
		case (full == want || strings.HasPrefix(want, full+".")) && strings.Contains(raw, last):
			fallback = i + 1 // inside an inline table
		}
	}
	return fallback
}

func unquoteKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

// knownHint lists the keys a table accepts, for an unknown one.
func knownHint(k toml.Key) string {
	known := map[string]string{
		"":          "name, scratch, state_dir, queue, results, module_init, [slurm], [cluster], [resources], [functions.NAME]",
		"slurm":     "partition, account, qos, nodes, walltime, keep, max_queued, drain_margin, overlap, script, extra_args",
		"cluster":   "bind_interface, bind_addr, voters",
		"resources": "cores, mem_mb",
	}
	parent := strings.Join(k[:len(k)-1], ".")
	if len(k) == 3 && k[0] == "functions" {
		return " (a function takes command, env, modules)"
	}
	if list, ok := known[parent]; ok {
		return fmt.Sprintf(" (check its spelling; the keys here are %s)", list)
	}
	return ""
}
