#!/usr/bin/env bash
# make chaos: the fault-injection suite (package chaos, issue 9). Every
# scenario runs CHAOS_RUNS times with random seeds against bin/pilot, within
# CHAOS_MINUTES; the bounds and seeds are printed first. CHAOS_SEED=N replays
# one seed (CHAOS_RUN=REGEXP picks scenarios). The table goes to
# chaos/RESULTS.md; failed runs keep their directory under CHAOS_KEEP.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CHAOS_RUNS:=2}" "${CHAOS_MINUTES:=20}" "${CHAOS_KEEP:=/tmp/pilot-chaos-failed}"
export CHAOS_RUNS CHAOS_MINUTES CHAOS_KEEP
out=chaos/RESULTS.md
if [ -n "${CHAOS_SEED:-}" ] || [ -n "${CHAOS_RUN:-}" ]; then
	out=/tmp/pilot-chaos-replay.md # a replay does not overwrite the published table
fi
go build -o bin/pilot-chaos ./chaos/cmd/chaos
exec bin/pilot-chaos -bin bin/pilot -out "$out"
