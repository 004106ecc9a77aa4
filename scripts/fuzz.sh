#!/usr/bin/env bash
# make fuzz: run every fuzz target of the project for a while (FUZZTIME,
# default 10s each). The seed corpora in testdata/fuzz run in every
# 'go test' anyway; this explores further. New crashers land in
# testdata/fuzz/FuzzX/ of their package: commit them with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-${FUZZTIME:-10s}}
echo "machine: $(nproc) cores, $(go version | cut -d' ' -f3), $(date -u +%FT%TZ); ${fuzztime} per target"
grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' . | sort | while read -r file; do
  pkg=./$(dirname "${file#./}")
  for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | cut -d' ' -f2); do
    echo "\$ go test -run '^\$' -fuzz '^${target}\$' -fuzztime $fuzztime $pkg"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | tail -n 2
  done
done
