#!/usr/bin/env bash
# make sim: both policies on both built-in workloads, side by side, with
# the real ledger and the real scheduler on a fake clock (package sim).
# Override the size with TASKS=..., NODES=..., SEED=... (a seed replays a
# run exactly). The default, 100,000 tasks per run, checks the ledger's
# invariants after every entry (CHECK=1, as 'pilot sim' does) and takes
# about 80 s of CPU for the four runs (mixed dense alone about 30-37 s);
# CHECK=10 checks every 10th entry for about a third less.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/pilot}
TASKS=${TASKS:-100000}
NODES=${NODES:-100}
CORES=${CORES:-56}
WALLTIME=${WALLTIME:-24h}
SEED=${SEED:-1}
CHECK=${CHECK:-1}
[ -x "$BIN" ] || { echo "sim: $BIN is missing; run 'make build' first" >&2; exit 1; }
echo "machine: $(nproc) cores, $(go version 2>/dev/null | cut -d' ' -f3), $(date -u +%FT%TZ)"
for wl in nmr mixed; do
	cmd=("$BIN" sim --workload "$wl" --policy both --tasks "$TASKS" --nodes "$NODES" --cores "$CORES" --walltime "$WALLTIME" --seed "$SEED" --check-every "$CHECK")
	echo
	echo "\$ ${cmd[*]}"
	"${cmd[@]}"
done
