#!/usr/bin/env bash
# make sim: both policies on both built-in workloads, side by side, with
# the real ledger and the real scheduler on a fake clock (package sim).
# Override the size with TASKS=..., NODES=..., SEED=... (a seed replays a
# run exactly). After every ledger entry the simulator checks the
# invariants of what the entry touched, and those of the whole ledger
# after every CHECK-th entry and at the end (CHECK=100, as 'pilot sim'
# does; CHECK=1 checks the whole ledger after every entry, which doubles
# the CPU of a run). The four runs of 100,000 tasks take about a minute
# of CPU (mixed dense, the slowest, about 11-17 s).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/pilot}
TASKS=${TASKS:-100000}
NODES=${NODES:-100}
CORES=${CORES:-56}
WALLTIME=${WALLTIME:-24h}
SEED=${SEED:-1}
CHECK=${CHECK:-100}
[ -x "$BIN" ] || { echo "sim: $BIN is missing; run 'make build' first" >&2; exit 1; }
echo "machine: $(nproc) cores, $(go version 2>/dev/null | cut -d' ' -f3), $(date -u +%FT%TZ)"
for wl in nmr mixed; do
	cmd=("$BIN" sim --workload "$wl" --policy both --tasks "$TASKS" --nodes "$NODES" --cores "$CORES" --walltime "$WALLTIME" --seed "$SEED" --check-every "$CHECK")
	echo
	echo "\$ ${cmd[*]}"
	"${cmd[@]}"
done
