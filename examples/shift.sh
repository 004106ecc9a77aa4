#!/bin/sh
# A toy "chemical shift" calculation, the shape of the motivating campaign's
# tasks: it reads a molecule (a SMILES string) on stdin, runs an iterative
# self-consistent loop that checkpoints into $PILOT_WORKDIR (so a retry
# resumes instead of starting over), and writes its small answer to
# $PILOT_WORKDIR/result.json. Only sh and awk: it runs on any node.
#
#   echo 'CCO' | PILOT_WORKDIR=$(mktemp -d) examples/shift.sh 4000
set -eu
iterations=${1:-4000}
work=${PILOT_WORKDIR:?PILOT_WORKDIR is not set: run me under pilot, or set it}
smiles=$(cat)
[ -n "$smiles" ] || { echo "shift.sh: no molecule on stdin" >&2; exit 2; }
ckpt="$work/scf.ckpt"
start=0
[ -s "$ckpt" ] && start=$(cat "$ckpt")

awk -v smiles="$smiles" -v iters="$iterations" -v start="$start" -v ckpt="$ckpt" -v out="$work/result.json" '
BEGIN {
  # Atoms and a crude neighbour count from the SMILES string.
  n = 0
  for (i = 1; i <= length(smiles); i++) {
    c = substr(smiles, i, 1)
    if (c ~ /[CNOSPF]/) { n++; el[n] = c; nb[n] = 0; if (n > 1) { nb[n]++; nb[n-1]++ } }
  }
  if (n == 0) { print "shift.sh: no atoms in " smiles > "/dev/stderr"; exit 3 }
  base["C"] = 20; base["N"] = 40; base["O"] = 60; base["S"] = 30; base["P"] = 50; base["F"] = 70
  for (a = 1; a <= n; a++) { target[a] = base[el[a]] + 8 * nb[a]; s[a] = 0 }
  # The "self-consistent field": relax each shift toward its neighbours.
  for (it = start; it < iters; it++) {
    for (a = 1; a <= n; a++) {
      left = (a > 1) ? s[a-1] : s[a]; right = (a < n) ? s[a+1] : s[a]
      s[a] += 0.05 * (target[a] - s[a]) + 0.02 * (left + right - 2 * s[a]) + 0.001 * sin(it + a)
    }
    if (it % 1000 == 999) { print it + 1 > ckpt; close(ckpt) }
  }
  printf "{\"molecule\":\"%s\",\"atoms\":%d,\"iterations\":%d,\"resumed_from\":%d,\"shifts\":[", smiles, n, iters, start > out
  for (a = 1; a <= n; a++) printf "%s{\"atom\":\"%s%d\",\"ppm\":%.3f}", (a > 1 ? "," : ""), el[a], a, s[a] > out
  print "]}" > out
}'
echo "shift.sh: $smiles: $iterations iterations (resumed from $start)"
