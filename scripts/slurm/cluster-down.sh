#!/usr/bin/env bash
# Tear down what scripts/slurm/cluster-up.sh built and leave nothing behind:
# jobs, every daemon and job process (by PID, never by name), the node
# namespaces, the bridge, the /etc/hosts block, slurm.conf, state and logs.
# Idempotent: on a machine with no cluster it does nothing and exits 0.
# The packages stay installed (other software on a shared machine needs
# libmunge2; see FACTS.md).
#
# Environment:
#   SLURM_TEST_KEEP_LOGS  1: keep /var/log/slurm (0)
set -uo pipefail

BRIDGE=slurmbr0
MARK="# slurm-test-cluster"
STATE=/run/slurm-test-cluster
[ "$(id -u)" = 0 ] || { echo "cluster-down: needs root; run: sudo $0" >&2; exit 1; }

alive() { [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] && ! awk '{exit $3!="Z"}' "/proc/$1/stat"; }
# stop PID...: TERM, wait up to 5 s, then KILL what is left.
stop() {
  local p left
  for p in "$@"; do alive "$p" && kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 50); do
    left=
    for p in "$@"; do alive "$p" && left=1; done
    [ -z "$left" ] && return 0
    sleep 0.1
  done
  for p in "$@"; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
  return 0
}

# 1. jobs first, so slurmstepd and tasks end cleanly while the daemons still run.
if [ -r /etc/slurm/slurm.conf ] && head -1 /etc/slurm/slurm.conf | grep -q "^$MARK" &&
   timeout 5 scontrol ping 2>/dev/null | grep -q "is UP"; then
  ids=$(squeue -h -t PD,R,CG,S -o %i 2>/dev/null | tr '\n' ' ')
  # shellcheck disable=SC2086 # one word per job id
  [ -n "${ids// /}" ] && scancel --quiet $ids 2>/dev/null
  for _ in $(seq 100); do   # KillWait is 5 s
    [ -z "$(squeue -h -t PD,R,CG,S -o %i 2>/dev/null)" ] && break
    sleep 0.1
  done
fi

# 2. slurmds and whatever still runs inside the node namespaces.
pids=()
for f in /run/slurmd-node*.pid; do [ -r "$f" ] && pids+=("$(cat "$f")"); done
for ns in /run/netns/slurm-node*; do
  [ -e "$ns" ] || continue
  while read -r p; do [ -n "$p" ] && pids+=("$p"); done < <(ip netns pids "$(basename "$ns")" 2>/dev/null)
done
[ ${#pids[@]} -gt 0 ] && stop "${pids[@]}"
rm -f /run/slurmd-node*.pid

# 3. the controller, then munged if cluster-up.sh started it.
[ -r /run/slurmctld.pid ] && stop "$(cat /run/slurmctld.pid)"
rm -f /run/slurmctld.pid
if [ -r "$STATE/munged.pid" ]; then
  stop "$(cat "$STATE/munged.pid")"
  rm -f /run/munge/munged.pid
fi

# 4. network: deleting a namespace deletes its veth pair.
for ns in /run/netns/slurm-node*; do [ -e "$ns" ] && ip netns del "$(basename "$ns")"; done
ip link show "$BRIDGE" >/dev/null 2>&1 && ip link del "$BRIDGE"
if [ -e "$STATE/forward-rule" ]; then
  iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null
fi
if grep -q '^# BEGIN slurm-test-cluster$' /etc/hosts; then
  sed "/^# BEGIN slurm-test-cluster$/,/^# END slurm-test-cluster$/d" /etc/hosts >/etc/hosts.slurm-test
  cat /etc/hosts.slurm-test >/etc/hosts
  rm -f /etc/hosts.slurm-test
fi

# 5. files: only the config this project wrote, state and (unless kept) logs.
if [ -r /etc/slurm/slurm.conf ] && head -1 /etc/slurm/slurm.conf | grep -q "^$MARK"; then
  rm -f /etc/slurm/slurm.conf
fi
rm -rf /var/spool/slurmctld/* /var/spool/slurmd/*
[ "${SLURM_TEST_KEEP_LOGS:-0}" = 1 ] || rm -f /var/log/slurm/*
rm -rf "$STATE"
echo "cluster-down: done"
