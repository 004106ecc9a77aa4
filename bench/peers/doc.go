// Command peers runs pilot side by side with the systems users would pick
// instead, on this machine, in one run (issue 10): Work Queue (a manager
// driven through its C library, wqrun.c, with one work_queue_worker on
// 127.0.0.1), Dask (a LocalCluster of process workers running subprocess
// tasks, daskrun.py), task-spooler, GNU parallel, and xargs -P as the
// fork/exec floor. Each workload is generated from a seed by the benchmark
// itself (workload.go); each system has one small runner file (sys_*.go) that
// turns a workload into that system's input, runs it as one whole command and
// reads back how many tasks finished. Rounds alternate the systems (A B A B),
// and the table gives medians with min–max. Pack workloads run stamp.c as
// their task, which sleeps and appends its own start and end, so makespan is
// read the same way on every system: last end minus first start, against the
// lower bound max(Σ duration·cores / slots, longest).
//
// scripts/bench-peers.sh (make bench-peers) installs the peers, builds the
// two C helpers and this program, and runs it; RESULTS.md holds a run.
package main
