// Package pilot is the agent: the process that runs on each node of a pilot
// (one per node, started by srun or by 'pilot local'). It joins its
// campaign's gossip cluster, takes assignments from the leader, runs each
// task pinned to its own cores, reports back, and drains before walltime.
//
// The parts, each small and tested on its own, and wired together by the
// agent's Run:
//
//   - resources.go: what this node offers (cores and memory from gopsutil,
//     overridden by Slurm's SLURM_CPUS_ON_NODE/SLURM_MEM_PER_NODE and by
//     explicit overrides) and the CPUs this process may use
//     (sched_getaffinity).
//   - cores.go: the per-node core allocator, a pure data structure that
//     hands each task a disjoint set of core ids 0..N-1 mapped onto those
//     CPUs, so no two tasks share a core while the node advertises no more
//     cores than it has CPUs (promise 3).
//   - runner/: runs one attempt of one task (no shell, own process group,
//     pinned, timed out, logs and result.json collected, outcome classified).
//   - member/: gossip membership (hashicorp/memberlist encrypted with the
//     campaign key) with the node metadata the leader schedules on, and the
//     members file that lets new pilots find the live cluster.
//   - rpc/: the authenticated msgpack RPC between the leader and the agents
//     (Assign, Cancel, Report).
//   - status*.go, metrics*.go: every agent's HTTP server (GET /status, the
//     leader's view of the live cluster; GET /metrics, Prometheus; POST
//     /flush, authenticated with a token derived from the campaign key).
//     The leader publishes its address in STATE/leader.json, counts what
//     upstream and the dispatcher answer, measures throughput, and records
//     results upstream refused in STATE/refused.jsonl. A flush closes the
//     dispatcher's gate, so no attempt of a dropped task starts after it.
//     The client side (WatchStatus, FlushCampaign) is what 'pilot status'
//     and 'pilot flush' call.
//
// Subpackages exist where a boundary pays: the leader loop in coordinator/
// imports member/ and rpc/, and this package imports the leader loop, so the
// wire and membership parts must not live here.
package pilot
