#!/usr/bin/env bash
# make bench: the project's benchmarks, each printing its own figures.
# Sections are independent; add yours below the ledger's.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== ledger: FSM alone, 3-voter commit (TCP on loopback, raft-wal on disk), 100k-task memory"
echo "   targets: BenchmarkLedgerCommit >= 100000 transitions/s; BenchmarkLedgerMemory rss-MB < 300"
go test -run '^$' -bench 'BenchmarkLedger(Apply|Commit)$' -benchtime 400x ./coordinator/
go test -run '^$' -bench 'BenchmarkLedgerMemory$' -benchtime 1x ./coordinator/
