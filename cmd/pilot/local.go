package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/pilot-hpc/pilot/pilot"
)

func init() {
	var cfg pilot.LocalConfig
	var asJSON bool
	var agentArgs []string
	cmd := &cobra.Command{
		Use:   "local --nodes N --queue FILE",
		Short: "Run a whole cluster of agents on this machine and work a queue to the end",
		Long: `Run N agent processes on this machine as one cluster (gossip, Raft and RPC on
loopback, each agent with its own share of the cores) and work the queue until
every task is final, with a progress line. Then the agents drain and it prints a
summary: tasks done and failed, wall time, tasks per second and core utilisation.

Results go to QUEUE.pilot/results.jsonl (one line per final task, see
'pilot results'); each agent's log to QUEUE.pilot/logs/. Running it again on the
same queue resumes: finished tasks are never run again. With --follow the cluster
stays up for lines appended to the queue later, until Ctrl-C.`,
		Example: `  pilot local --nodes 3 --queue examples/shifts.jsonl
  pilot local --nodes 2 --queue tasks.jsonl --json | jq .utilization`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Queue == "" {
				return usageErr("--queue is required: the JSONL file of tasks to work")
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			cfg.Binary = exe
			cfg.AgentArgs = agentArgs
			cfg.AgentTimerSlack = agentTimerSlack
			cfg.Progress = os.Stderr
			sum, err := pilot.RunLocal(cmd.Context(), cfg)
			if err != nil {
				return withHint(err, "the agents' logs are in the queue's state directory, under logs/")
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(sum)
			}
			fmt.Fprintf(out, "%d tasks final: %d done, %d failed, in %.1fs (%.1f tasks/s)\n", sum.Tasks, sum.Done, sum.Failed, sum.WallS, sum.TasksPerS)
			fmt.Fprintf(out, "%d agents, %d cores: %.0f core-seconds busy, utilisation %.0f%%\n", sum.Nodes, sum.Cores, sum.BusyCoreS, 100*sum.Utilization)
			fmt.Fprintf(out, "results: %s\nlogs:    %s\n", sum.Results, sum.Logs)
			if sum.Failed > 0 {
				fmt.Fprintf(out, "see the failures: pilot results --queue %s --failed\n", cfg.Queue)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&cfg.Nodes, "nodes", "n", 3, "agent processes to start")
	f.StringVarP(&cfg.Queue, "queue", "q", "", "the JSONL file of tasks (or a 'pilot serve' URL with --state)")
	f.StringVar(&cfg.StateDir, "state", "", "the campaign's state directory (default QUEUE.pilot/)")
	f.IntVar(&cfg.CoresPerNode, "cores-per-node", 0, "cores each agent offers (default: this machine's CPUs shared out)")
	f.BoolVar(&cfg.Follow, "follow", false, "keep running for tasks appended later, until Ctrl-C")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	f.StringArrayVar(&agentArgs, "agent-arg", nil, "an extra flag for every agent (repeatable), e.g. --agent-arg=--log-level=debug")
	rootCmd.AddCommand(cmd)
}
