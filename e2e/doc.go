// Package e2e holds the end-to-end tests of the agent: they build the real
// pilot binary once (TestMain), start 'pilot agent' processes that form a
// cluster over real sockets on 127.0.0.1, work real queue files, and break
// the cluster the way the world does: kill -9 of the leader and of a worker,
// a drain signal mid-run, a node with another campaign's key, tasks that
// crash, hang, vanish or return too much.
//
// The tests: TestKillLeaderThenWorker (four agents, 500 tasks, kill -9 of
// the leader then of another agent), TestWrongCampaignKeyIsRefused,
// TestDrainLeaderMidRun (SIGUSR1), TestPausedWorkerComesBack (SIGSTOP past
// the failure detection, then SIGCONT: the agent the leader dropped comes
// back and runs new work), TestBadTasksFailClearly and
// TestSameContentRunsOnce. Set PILOT_E2E_LOGS=DIR to keep a failed test's
// logs (PILOT_E2E_KEEP_ALL=1: every test's).
//
// The tests read only what an operator could read: the queue's
// results.jsonl (one line per final task), each agent's attempt log
// (DATA/attempts.jsonl: task, attempt, node, cores, cpus, start, end,
// outcome) and each agent's log (who leads, elections). They wait by
// polling those files with a deadline (the agents are external processes)
// and never by sleeping. Every process they start is killed and reaped in
// t.Cleanup, and every file lives under t.TempDir.
//
// The package has no code outside its tests; this file carries its
// paragraph of architecture.
package e2e
