// Package chaos tries to break pilot: it runs real agent processes on this
// machine against a real queue, injects faults into them (kill -9 of any
// agent, the leader included, and its restart on its own data directory;
// SIGSTOP/SIGCONT; SIGUSR1 drains; pilots reaching their end; flush under
// load; a queue server killed and restarted, or behind a fault proxy that
// answers 5xx, hangs and drops connections; malformed and mutating queue
// files; poison and hung tasks; partitions, UDP drops and packet loss
// between agents in network namespaces), and then checks the invariants of
// ../shared/RELIABILITY.md against what the run left on disk.
//
// Five parts, one concern each. Cluster (cluster.go) starts and signals
// 'pilot agent' processes and reads their logs; it knows nothing of
// scenarios. Check (check.go) is the checker: a pure reading of the queue
// file, the campaign's results, the flushed archives, every agent's
// attempt log and every agent's log (the terms it led: one leader per
// term), returning counts and the list of broken invariants; it runs
// after any run, chaos or not. FaultProxy (faultproxy.go) sits between
// agents and a queue server and breaks requests on a seeded schedule.
// Net (netns.go) gives each agent a network namespace of its own on a
// bridge (Cluster.Host runs it there) and cuts or thins the traffic
// between them with iptables inside the namespaces; it needs root.
// Scenarios (scenario*.go) are seeded functions that build a cluster,
// inject one kind of fault, wait for the queue to drain and return the
// checker's report with the elections seen and the time to recover. RunSuite runs scenarios with seeds and makes the
// table (table.go) that 'make chaos' writes to chaos/RESULTS.md.
//
// A failing run prints its seed: CHAOS_SEED=N replays the same fault
// schedule (the timing of real processes still varies). The short part of
// the suite, fixed seeds and small queues, runs in 'go test ./chaos/'.
package chaos
