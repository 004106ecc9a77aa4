package pilot

// released says whether this agent's pilot was given back: the ledger
// marks its node draining and nothing is assigned to or running on it.
// The leader marks an idle pilot so once upstream is drained and no
// queued task fits the pilot's time left (sched.Releasable); a node
// marked draining never gets a task again, so the agent leaves rather
// than idle until its walltime, and the pilot's Slurm job ends when all
// its agents have. The same holds for the other agents of a pilot one of
// whose agents drained alone: the whole pilot is marked draining then.
func (a *agent) released() bool {
	n, ok := a.raft.Ledger().View().Node(a.cfg.Name)
	return ok && n.Draining && n.Tasks == 0 && len(a.exec.Running()) == 0
}
