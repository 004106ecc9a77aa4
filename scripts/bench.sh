#!/usr/bin/env bash
# make bench: the project's benchmarks, each printed with its command and the
# conditions it ran under (machine, date, load), so figures can be compared.
#
#   1. End to end: 'pilot local --nodes 2' works N tasks of `true` (default
#      5,000), against `xargs -P 2 -n 1 true` on the same N in the same run:
#      the spawn-rate limit of this machine. The two alternate A B A B
#      (ROUNDS times each, default 3) and the medians are compared; the
#      target is a pilot rate of at least 70% of the xargs rate.
#   2. The floors under that rate, alternating the same way: xargs, the
#      agent's runner alone, the runner with the scratch cache, and pilot
#      local with one agent of two cores (bench-peers' noop setting).
#   3. The ledger's benchmarks with their targets, then the other package
#      benchmarks: scheduler, upstream queues, scratch cache, the agent's
#      runner and RPC (BENCHTIME each, default 1s).
#
# Environment: BENCH_TASKS (5000), BENCH_ROUNDS (3), BENCHTIME (1s),
# BENCH_SKIP_PKGS=1 to run only the end-to-end part.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
pilot="$repo/bin/pilot"
tasks=${BENCH_TASKS:-5000}
rounds=${BENCH_ROUNDS:-3}
benchtime=${BENCHTIME:-1s}
work=$(mktemp -d /tmp/pilot-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== conditions"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "host:    $(uname -srm), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
echo "memory:  $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "go:      $(go version | cut -d' ' -f3-)"
echo "commit:  $(git describe --always --dirty 2>/dev/null || echo unknown)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the start"
echo

# Every task is `true`, each with its own cache_key: tasks of one content
# share one scratch cache entry (one runs, the rest reuse its result), and
# this measures spawning, not cache hits.
for i in $(seq 1 "$tasks"); do
  printf '{"id":"t%d","cmd":["true"],"cache_key":"%d"}\n' "$i" "$i"
done > "$work/tasks.jsonl"

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" -v e="$3" 'BEGIN { printf "%.1f", n / (e - s) }'; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# cpu_ms FILE: user+system CPU of a command and its children (from
# /usr/bin/time -f '%U %S'), in milliseconds per task.
cpu_ms() { awk -v n="$tasks" '{ printf "%.2f", 1000 * ($1 + $2) / n }' "$1"; }

echo "== end to end: $tasks tasks of 'true', $rounds rounds, alternating"
echo "A: $pilot local --nodes 2 --queue QUEUE --json"
echo "   tasks/s from its summary (first agent started to last result final); 'wall' adds start-up and drain"
echo "B: seq $tasks | xargs -P 2 -n 1 true"
echo "CPU: user+system of the command and all its children (agents, tasks) per task; it does not depend"
echo "     on what else loads the machine, the rates do (see the load average)"
: > "$work/a"; : > "$work/a-wall"; : > "$work/b"; : > "$work/a-cpu"; : > "$work/b-cpu"
for r in $(seq 1 "$rounds"); do
  q="$work/round$r.jsonl"
  cp "$work/tasks.jsonl" "$q"
  s=$(now)
  /usr/bin/time -f '%U %S' -o "$work/time-a" "$pilot" local --nodes 2 --queue "$q" --json > "$work/sum$r.json" 2> "$work/local$r.err" || {
    echo "pilot local failed; its output:"; cat "$work/local$r.err"; exit 1; }
  e=$(now)
  a=$(sed -n 's/.*"tasks_per_s": *\([0-9.]*\).*/\1/p' "$work/sum$r.json" | awk '{ printf "%.1f", $1 }')
  done_n=$(sed -n 's/.*"done": *\([0-9]*\).*/\1/p' "$work/sum$r.json")
  aw=$(rate "$tasks" "$s" "$e"); ac=$(cpu_ms "$work/time-a")
  echo "$a" >> "$work/a"; echo "$aw" >> "$work/a-wall"; echo "$ac" >> "$work/a-cpu"
  s=$(now)
  seq "$tasks" | /usr/bin/time -f '%U %S' -o "$work/time-b" xargs -P 2 -n 1 true
  e=$(now)
  b=$(rate "$tasks" "$s" "$e"); bc=$(cpu_ms "$work/time-b")
  echo "$b" >> "$work/b"; echo "$bc" >> "$work/b-cpu"
  printf 'round %d: A %7s tasks/s (wall %s; %s done; CPU %s ms/task)   B %7s tasks/s (CPU %s ms/task)   load %s\n' \
    "$r" "$a" "$aw" "$done_n" "$ac" "$b" "$bc" "$(cut -d' ' -f1 /proc/loadavg)"
done
ma=$(median < "$work/a"); maw=$(median < "$work/a-wall"); mb=$(median < "$work/b")
mac=$(median < "$work/a-cpu"); mbc=$(median < "$work/b-cpu")
pct=$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.0f", 100 * a / b }')
echo "median:  A $ma tasks/s (wall $maw), CPU $mac ms/task   B $mb tasks/s, CPU $mbc ms/task"
echo "         A/B = $pct% of the xargs rate (target >= 70%)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) at the end of the end-to-end runs"
echo

# The floors: how far the agent's own work per task lets pilot get to the
# xargs rate. Each step adds one part of what pilot does for a task.
echo "== the floors under pilot's rate: $tasks tasks of 'true <i>' on 2 cores, $rounds rounds, alternating"
echo "X: seq 0 $((tasks - 1)) | xargs -P 2 -n 1 true (the fork/exec floor)"
echo "R: the runner alone, two tasks at a time, each pinned to its core (BenchmarkRunTrueTwoCores, ./pilot)"
echo "C: R plus each task's scratch cache entry opened and sealed (BenchmarkTaskPathTwoCores, ./pilot)"
echo "P: $pilot local --nodes 1 --cores-per-node 2 (C plus the ledger, the leader, the reports, the queue)"
go test -c -o "$work/pilot.test" ./pilot
for i in $(seq 0 $((tasks - 1))); do
  printf '{"id":"t%d","cmd":["true","%d"]}\n' "$i" "$i"
done > "$work/noop.jsonl"
gobench() { "$1" -test.run '^$' -test.bench "^$2\$" -test.benchtime "${tasks}x" | sed -n 's/.* \([0-9.]*\) tasks\/s.*/\1/p'; }
: > "$work/fx"; : > "$work/fr"; : > "$work/fc"; : > "$work/fp"
for r in $(seq 1 "$rounds"); do
  s=$(now); seq 0 $((tasks - 1)) | xargs -P 2 -n 1 true; e=$(now)
  x=$(rate "$tasks" "$s" "$e")
  rr=$(gobench "$work/pilot.test" BenchmarkRunTrueTwoCores)
  cc=$(gobench "$work/pilot.test" BenchmarkTaskPathTwoCores)
  cp "$work/noop.jsonl" "$work/noop$r.jsonl"
  pp=$("$pilot" local --nodes 1 --cores-per-node 2 --queue "$work/noop$r.jsonl" --json 2> "$work/noop$r.err" |
    sed -n 's/.*"tasks_per_s": *\([0-9.]*\).*/\1/p' | awk '{ printf "%.1f", $1 }')
  echo "$x" >> "$work/fx"; echo "$rr" >> "$work/fr"; echo "$cc" >> "$work/fc"; echo "$pp" >> "$work/fp"
  printf 'round %d: X %7s   R %7s   C %7s   P %7s tasks/s   load %s\n' "$r" "$x" "$rr" "$cc" "$pp" "$(cut -d' ' -f1 /proc/loadavg)"
done
mx=$(median < "$work/fx")
for f in r c p; do
  m=$(median < "$work/f$f")
  printf 'median:  %s %7s tasks/s = %s of X\n' "$(echo "$f" | tr a-z A-Z)" "$m" "$(awk -v a="$m" -v b="$mx" 'BEGIN { printf "%.2f", a / b }')"
done
echo "         X $mx tasks/s"
echo

if [ -n "${BENCH_SKIP_PKGS:-}" ]; then
  exit 0
fi
echo "== ledger: FSM alone, 3-voter commit (TCP on loopback, raft-wal on disk), 100k-task memory"
echo "   targets: BenchmarkLedgerCommit >= 100000 transitions/s; BenchmarkLedgerMemory rss-MB < 300"
go test -run '^$' -bench 'BenchmarkLedger(Apply|Commit)$' -benchtime 400x ./coordinator/
go test -run '^$' -bench 'BenchmarkLedgerMemory$' -benchtime 1x ./coordinator/
echo

pkgs=(./coordinator/... ./upstream/... ./scratchcache/... ./pilot/runner/ ./pilot/rpc/)
echo "== package benchmarks (the ledger's above)"
echo "go test -run '^\$' -bench . -skip '^BenchmarkLedger' -benchtime $benchtime -benchmem ${pkgs[*]}"
go test -run '^$' -bench . -skip '^BenchmarkLedger' -benchtime "$benchtime" -benchmem "${pkgs[@]}" 2>&1 |
  grep -Ev '^(PASS|ok |\?|goos:|goarch:|pkg:|cpu:)' || true
