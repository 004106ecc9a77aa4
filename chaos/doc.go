// Package chaos tries to break pilot: it runs real agent processes on this
// machine against a real queue, injects faults into them (kill -9 of any
// agent, the leader included; SIGSTOP/SIGCONT; SIGUSR1 drains; flush under
// load; a queue server killed and restarted; malformed and mutating queue
// files; poison and hung tasks), and then checks the invariants of
// ../shared/RELIABILITY.md against what the run left on disk.
//
// Three parts, one concern each. Cluster (cluster.go) starts and signals
// 'pilot agent' processes and reads their logs; it knows nothing of
// scenarios. Check (check.go) is the checker: a pure reading of the queue
// file, the campaign's results, the flushed archives and every agent's
// attempt log, returning counts and the list of broken invariants; it runs
// after any run, chaos or not. Scenarios (scenario*.go) are seeded
// functions that build a cluster, inject one kind of fault, wait for the
// queue to drain and return the checker's report with the elections seen
// and the time to recover. RunSuite runs scenarios with seeds and makes the
// table (table.go) that 'make chaos' writes to chaos/RESULTS.md.
//
// A failing run prints its seed: CHAOS_SEED=N replays the same fault
// schedule (the timing of real processes still varies). The short part of
// the suite, fixed seeds and small queues, runs in 'go test ./chaos/'.
package chaos
