package site

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pilot-hpc/pilot/task"
)

// Resolve turns a task into the command to run at this site. A "cmd" task
// runs as it is. A "fn" task runs its function's command template with the
// task's args, the function's env under the task's own, and its modules
// loaded first (through bash: module is a shell function).
func (c *Config) Resolve(spec task.Spec) (argv []string, env map[string]string, err error) {
	if spec.Fn == "" {
		return slices.Clone(spec.Cmd), maps.Clone(spec.Env), nil
	}
	fn, ok := c.Functions[spec.Fn]
	if !ok {
		known := slices.Sorted(maps.Keys(c.Functions))
		return nil, nil, fmt.Errorf("task %s: site %q (%s) has no function %q; its [functions] are: %s",
			spec.ID, c.Name, c.Path, spec.Fn, strings.Join(known, ", "))
	}
	v := vars{id: spec.ID, fn: spec.Fn, cores: spec.Cores, memMB: spec.MemMB, args: spec.Args}
	fail := func(err error) error {
		return fmt.Errorf("task %s: function %q of site %q (%s): %w", spec.ID, spec.Fn, c.Name, c.Path, err)
	}
	for _, t := range fn.Command {
		if t == "{args}" {
			argv = append(argv, spec.Args...)
			continue
		}
		a, err := expand(t, v)
		if err != nil {
			return nil, nil, fail(err)
		}
		argv = append(argv, a)
	}
	env = make(map[string]string, len(fn.Env)+len(spec.Env))
	for k, t := range fn.Env {
		if env[k], err = expand(t, v); err != nil {
			return nil, nil, fail(fmt.Errorf("env %s: %w", k, err))
		}
	}
	maps.Copy(env, spec.Env)
	if len(fn.Modules) > 0 {
		argv = c.withModules(fn.Modules, argv)
	}
	return argv, env, nil
}

// withModules wraps argv so the modules are loaded first. The argv travels
// as positional parameters, never through the shell's parser.
func (c *Config) withModules(modules, argv []string) []string {
	load := "module load " + strings.Join(modules, " ") + ` && exec "$@"`
	if c.ModuleInit != "" {
		return append([]string{"/bin/bash", "-c", c.ModuleInit + " && " + load, "pilot-fn"}, argv...)
	}
	return append([]string{"/bin/bash", "-l", "-c", load, "pilot-fn"}, argv...)
}
