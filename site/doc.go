// Package site reads a per-site configuration file: where a campaign keeps
// its scratch and state at one site, how pilots are submitted there (Slurm
// partition, account, nodes, walltime, how many to keep alive and how early
// to drain), how agents bind their gossip, and the functions table that
// turns a task's "fn" into a command at this site, so the same task runs at
// any site (Resolve).
//
// The file is TOML and strict: an unknown key is an error naming the file
// and its line, so a typo never runs silently on a default. Load resolves
// relative paths against the file's directory and expands $VARIABLES
// (an unset one is an error), fills defaults and validates; the Config it
// returns is ready to use. examples/site-local.toml and
// examples/site-large.toml are commented samples.
package site
