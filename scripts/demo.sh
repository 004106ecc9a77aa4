#!/usr/bin/env bash
# make demo: the main job on its embedded default. A cluster of 3 agents on
# this machine (gossip, Raft and RPC on loopback) works examples/shifts.jsonl,
# 300 toy chemical-shift tasks, to the end; then we look at the results.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
pilot="$repo/bin/pilot"
work=${PILOT_DEMO_DIR:-$(mktemp -d /tmp/pilot-demo.XXXXXX)}
mkdir -p "$work"

# The queue names its script relative to the repository; give it the full path.
sed "s#\"examples/shift.sh\"#\"$repo/examples/shift.sh\"#" examples/shifts.jsonl > "$work/shifts.jsonl"

echo "== pilot local --nodes 3 --queue $work/shifts.jsonl"
"$pilot" local --nodes 3 --queue "$work/shifts.jsonl"

echo
echo "== the first results (one JSON line per final task):"
head -n 3 "$work/shifts.jsonl.pilot/results.jsonl"
if "$pilot" results --help >/dev/null 2>&1; then
  echo
  echo "== pilot status --queue $work/shifts.jsonl"
  "$pilot" status --queue "$work/shifts.jsonl"
  echo
  echo "== pilot results --queue $work/shifts.jsonl (the first lines)"
  "$pilot" results --queue "$work/shifts.jsonl" > "$work/results.txt"
  head -n 8 "$work/results.txt"
fi
echo
echo "Run it again and nothing reruns (the campaign resumes from its results):"
echo "  $pilot local --nodes 3 --queue $work/shifts.jsonl"
