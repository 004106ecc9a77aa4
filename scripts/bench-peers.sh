#!/usr/bin/env bash
# make bench-peers: pilot side by side with Work Queue, Dask, task-spooler,
# GNU parallel and xargs -P on this machine (issue 10). Installs the peers from
# Debian's packages if they are missing, builds the helpers and the harness,
# and runs it. QUICK=1: a few minutes. Extra flags for the harness in ARGS,
# e.g. ARGS='-rounds 3 -systems pilot,xargs'. See bench/peers/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(coop-computing-tools coop-computing-tools-dev python3-distributed task-spooler parallel gcc zlib1g-dev libssl-dev)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "== installing ${missing[*]}"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get install -y "${missing[@]}" >/dev/null || {
		$sudo apt-get update >/dev/null && $sudo apt-get install -y "${missing[@]}" >/dev/null
	}
fi

echo "== building the helpers into bin/peers/ and the harness into bin/bench-peers"
mkdir -p bin/peers
gcc -O2 -o bin/peers/stamp bench/peers/helpers/stamp.c
gcc -O2 -o bin/peers/wqrun bench/peers/helpers/wqrun.c -lwork_queue -ldttools -lz -lssl -lcrypto -lm
cp bench/peers/helpers/daskrun.py bin/peers/
go build -o bin/bench-peers ./bench/peers

echo "== versions"
echo "tree $(git describe --always --dirty) (the harness prints the version of the pilot it runs)"
echo "work queue $(work_queue_worker --version 2>&1 | head -1)"
echo "dask $(/usr/bin/python3 -c 'import distributed; print(distributed.__version__)')"
echo "$(dpkg-query -W -f '${Package} ${Version}' task-spooler)"
echo "$(parallel --version | head -1)"
echo "$(xargs --version | head -1)"

flags=()
[ "${QUICK:-0}" = 1 ] && flags+=(-quick)
# shellcheck disable=SC2086 # ARGS is word-split on purpose
exec bin/bench-peers "${flags[@]}" ${ARGS:-}
