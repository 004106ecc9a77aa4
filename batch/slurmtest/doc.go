// Package slurmtest gives tests a real Slurm: the namespaced test cluster
// that scripts/slurm/cluster-up.sh builds on this machine (a controller and
// one slurmd per network namespace, nodes node1..nodeN at NET.11..).
//
// Only one such cluster can exist per machine, and `go test ./...` runs
// packages in parallel, so every test package that uses it holds a
// machine-wide lock (flock on LockPath) from its first Need until its
// TestMain ends, through Main. If the package brought the cluster up, Main
// tears it down; a cluster that was already up (make slurm-up) is left
// running. Fault injection (Cut, Restore) acts on the veth of one node.
//
// Use it as:
//
//	func TestMain(m *testing.M) { os.Exit(slurmtest.Main(m)) }
//	func TestX(t *testing.T) { c := slurmtest.Need(t, 3); ... }
package slurmtest
