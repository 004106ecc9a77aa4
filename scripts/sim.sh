#!/usr/bin/env bash
# make sim: both policies on both built-in workloads, side by side, with
# the real ledger and the real scheduler on a fake clock (package sim).
# Override the size with TASKS=..., NODES=..., SEED=... (a seed replays a
# run exactly). The default, 100,000 tasks per run, takes a few minutes:
# it checks the ledger's invariants after every 10th entry (CHECK=10);
# 'pilot sim' alone checks after every entry, which costs mixed 100k
# about 90 s of CPU instead of 25.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/pilot}
TASKS=${TASKS:-100000}
NODES=${NODES:-100}
CORES=${CORES:-56}
WALLTIME=${WALLTIME:-24h}
SEED=${SEED:-1}
CHECK=${CHECK:-10}
[ -x "$BIN" ] || { echo "sim: $BIN is missing; run 'make build' first" >&2; exit 1; }
echo "machine: $(nproc) cores, $(go version 2>/dev/null | cut -d' ' -f3), $(date -u +%FT%TZ)"
for wl in nmr mixed; do
	cmd=("$BIN" sim --workload "$wl" --policy both --tasks "$TASKS" --nodes "$NODES" --cores "$CORES" --walltime "$WALLTIME" --seed "$SEED" --check-every "$CHECK")
	echo
	echo "\$ ${cmd[*]}"
	"${cmd[@]}"
done
