package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// environ builds the task's environment: the base, then Extra, then
// OMP_NUM_THREADS, then the task's own env, then the PILOT_ variables,
// each name once, from the last of these that sets it (a C program's
// getenv would find the first of a name given twice), except that the
// task cannot set the PILOT_ variables.
func environ(r *Request) []string {
	base := r.Env
	if base == nil {
		base = LastOfEach(os.Environ())
	}
	later := func(name string) bool {
		_, own := r.Spec.Env[name]
		return own || isSetHere(name)
	}
	cores := strconv.Itoa(max(r.Spec.Cores, 1))
	env := make([]string, 0, len(base)+len(r.Extra)+len(r.Spec.Env)+5)
	for _, kv := range base {
		if name, _, _ := strings.Cut(kv, "="); !later(name) && !hasName(r.Extra, name) {
			env = append(env, kv)
		}
	}
	for _, kv := range r.Extra {
		if name, _, _ := strings.Cut(kv, "="); !later(name) {
			env = append(env, kv)
		}
	}
	if _, own := r.Spec.Env["OMP_NUM_THREADS"]; !own {
		env = append(env, "OMP_NUM_THREADS="+cores)
	}
	keys := make([]string, 0, len(r.Spec.Env))
	for k := range r.Spec.Env {
		if !isSetHere(k) || k == "OMP_NUM_THREADS" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+r.Spec.Env[k])
	}
	return append(env,
		"PILOT_TASK_ID="+r.Spec.ID,
		"PILOT_ATTEMPT="+strconv.Itoa(r.Attempt),
		"PILOT_WORKDIR="+r.Workdir,
		"PILOT_CORES="+cores,
	)
}

// hasName says whether env sets name.
func hasName(env []string, name string) bool {
	for _, kv := range env {
		if n, _, _ := strings.Cut(kv, "="); n == name {
			return true
		}
	}
	return false
}

// isSetHere says whether environ sets name itself.
func isSetHere(name string) bool {
	switch name {
	case "OMP_NUM_THREADS", "PILOT_TASK_ID", "PILOT_ATTEMPT", "PILOT_WORKDIR", "PILOT_CORES":
		return true
	}
	return false
}

// LastOfEach drops every NAME=value of env whose NAME comes again later,
// in place, keeping the order of the rest: a base environment for
// Request.Env.
func LastOfEach(env []string) []string {
	seen := make(map[string]struct{}, len(env))
	keep := len(env)
	for i := len(env) - 1; i >= 0; i-- {
		name, _, _ := strings.Cut(env[i], "=")
		if _, dup := seen[name]; dup {
			continue
		}
		seen[name] = struct{}{}
		keep--
		env[keep] = env[i]
	}
	return env[keep:]
}

// errNotFound marks an executable that is missing or not executable: the
// task's fault, not the node's.
var errNotFound = errors.New("executable not found")

// found remembers where a bare name was found in an absolute PATH
// directory, by name and PATH, like a shell's hash table: the next task of
// the same command checks that one file instead of searching PATH again.
// A name that is gone from where it was found is searched for afresh.
var found sync.Map

// lookPath resolves argv[0] like a shell would, but with the task's PATH:
// a name with a slash is taken as it is (relative to the working
// directory), a bare name is searched in PATH.
func lookPath(name, workdir string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(workdir, p)
		}
		if err := executable(p); err != nil {
			return "", fmt.Errorf("%w: %s: %v", errNotFound, name, err)
		}
		return p, nil
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	key := name + "\x00" + path
	if p, ok := found.Load(key); ok && executable(p.(string)) == nil {
		return p.(string), nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if !filepath.IsAbs(p) {
			p = filepath.Join(workdir, p)
		}
		if executable(p) == nil {
			if filepath.IsAbs(dir) {
				found.Store(key, p)
			}
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %q is not in the task's PATH (%s)", errNotFound, name, path)
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("is a directory")
	}
	if st.Mode()&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}
