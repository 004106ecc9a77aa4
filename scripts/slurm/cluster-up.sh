#!/usr/bin/env bash
# Bring up a real multi-node Slurm cluster on this one machine, for the
# project's tests and demos: Debian's slurmctld in the root network namespace
# (the "login node"), and one slurmd per network + UTS namespace, so every
# node has its own hostname (node1..nodeN) and address (NET.11..).
# See /work/shared/slurm/FACTS.md (the measured facts this follows) and
# scripts/slurm/cluster-down.sh (which undoes everything this does).
#
# Idempotent: run it again on a running cluster and it rewrites slurm.conf
# and starts only what is missing. Needs root. Packages come from
# scripts/ci/install-slurm.sh.
#
# Environment:
#   SLURM_TEST_NODES        number of nodes (4)
#   SLURM_TEST_CPUS         CPUs each node claims (8; the machine has fewer, that is fine)
#   SLURM_TEST_MEM_MB       memory each node claims (4096)
#   SLURM_TEST_NET          the /24 the bridge and nodes use (10.77.0)
#   SLURM_TEST_PRIVATE_TMP  1: every node gets its own tmpfs /tmp (0)
#   SLURM_TEST_TIMEOUT      seconds to wait for the nodes to be idle (30)
set -euo pipefail

N=${SLURM_TEST_NODES:-4}
CPUS=${SLURM_TEST_CPUS:-8}
MEM=${SLURM_TEST_MEM_MB:-4096}
NET=${SLURM_TEST_NET:-10.77.0}
PRIVATE_TMP=${SLURM_TEST_PRIVATE_TMP:-0}
TIMEOUT=${SLURM_TEST_TIMEOUT:-30}
BRIDGE=slurmbr0
MARK="# slurm-test-cluster"
STATE=/run/slurm-test-cluster   # what cluster-down.sh needs to undo

die() { echo "cluster-up: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (namespaces, /etc/hosts, daemons); run: sudo $0"
for b in slurmctld slurmd sbatch munged ip nsenter unshare; do
  command -v "$b" >/dev/null || die "$b not found; run scripts/ci/install-slurm.sh first"
done
if ! [[ $N =~ ^[0-9]+$ ]] || [ "$N" -lt 1 ] || [ "$N" -gt 200 ]; then
  die "SLURM_TEST_NODES=$N: want a number of nodes from 1 to 200"
fi

# alive PID: running and not a zombie (kill -0 succeeds on zombies).
alive() { [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] && ! awk '{exit $3!="Z"}' "/proc/$1/stat"; }
pidof_file() { if [ -r "$1" ]; then cat "$1"; fi; }
# wait_until SECONDS CMD...: poll an external condition with a deadline.
wait_until() {
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.1
  done
}
mkdir -p "$STATE"

# 1. munge: one munged serves every node (its socket is a path, not an address).
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  install -d -o munge -g munge -m 755 /run/munge
  runuser -u munge -- /usr/sbin/munged --force
  wait_until 10 sh -c 'munge -n | unmunge' || die "munged did not start; see /var/log/munge/munged.log"
  cp /run/munge/munged.pid "$STATE/munged.pid"
fi

# 2. network: a bridge, and one namespace + veth pair per node.
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.1/24" dev "$BRIDGE"
fi
ip link set "$BRIDGE" up
# Bridged frames pass through iptables; where FORWARD drops by default
# (Docker does that) node-to-node traffic would vanish without this rule.
if iptables -S FORWARD 2>/dev/null | grep -q '^-P FORWARD DROP' &&
   ! iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null; then
  iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
  touch "$STATE/forward-rule"
fi
for i in $(seq "$N"); do
  ns=slurm-node$i
  [ -e "/run/netns/$ns" ] || ip netns add "$ns"
  if ! ip link show "sn${i}h" >/dev/null 2>&1; then
    ip link add "sn${i}h" type veth peer name eth0 netns "$ns"
    ip -n "$ns" addr add "$NET.$((10 + i))/24" dev eth0
  fi
  ip link set "sn${i}h" master "$BRIDGE" up
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
done

# 3. /etc/hosts: one marked block, rewritten in place.
hosts=$(sed "/^# BEGIN slurm-test-cluster$/,/^# END slurm-test-cluster$/d" /etc/hosts)
{
  printf '%s\n' "$hosts"
  echo "# BEGIN slurm-test-cluster"
  echo "$NET.1 slurmctl"
  for i in $(seq "$N"); do echo "$NET.$((10 + i)) node$i"; done
  echo "# END slurm-test-cluster"
} >/etc/hosts.slurm-test
cat /etc/hosts.slurm-test >/etc/hosts   # keep the inode: /etc/hosts may be a bind mount
rm -f /etc/hosts.slurm-test

# 4. slurm.conf. The less obvious lines are explained in FACTS.md:
# config_overrides lets 8 claimed CPUs run on 2 real cores; the short
# timeouts make node failure and requeue take seconds, not minutes.
conf=/etc/slurm/slurm.conf
if [ -e "$conf" ] && ! head -1 "$conf" | grep -q "^$MARK"; then
  die "$conf exists and was not written by this script; move it away first"
fi
{
  echo "$MARK (this marker lets cluster-down.sh remove the file)"
  cat <<EOF
ClusterName=testcluster
SlurmctldHost=slurmctl($NET.1)
SlurmUser=slurm
AuthType=auth/munge
CryptoType=crypto/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd/%n
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd-%n.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,bf_interval=2,sched_interval=5
AuthInfo=cred_expire=20
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
SlurmctldTimeout=10
SlurmdTimeout=10
MessageTimeout=5
InactiveLimit=0
KillWait=5
Waittime=0
MinJobAge=300
EOF
  for i in $(seq "$N"); do
    echo "NodeName=node$i NodeAddr=$NET.$((10 + i)) CPUs=$CPUS RealMemory=$MEM State=UNKNOWN"
  done
  echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
} >"$conf.new"
mv "$conf.new" "$conf"
install -d -o slurm -g slurm /var/spool/slurmctld /var/log/slurm
for i in $(seq "$N"); do install -d "/var/spool/slurmd/node$i"; done

# 5. the controller, in its own UTS namespace so its hostname is SlurmctldHost.
if ! alive "$(pidof_file /run/slurmctld.pid)"; then
  unshare --uts sh -c 'hostname slurmctl && exec slurmctld -c'
  wait_until "$TIMEOUT" sh -c 'scontrol ping | grep -q "is UP"' ||
    die "slurmctld did not come up; see /var/log/slurm/slurmctld.log"
fi

# 6. one slurmd per node. nsenter, not "ip netns exec": the latter remounts
# /sys and hides the cgroup mount slurmd needs.
for i in $(seq "$N"); do
  alive "$(pidof_file "/run/slurmd-node$i.pid")" && continue
  if [ "$PRIVATE_TMP" = 1 ]; then
    nsenter --net="/run/netns/slurm-node$i" unshare --uts --mount --propagation private \
      sh -c "mount -t tmpfs -o mode=1777 tmpfs /tmp && hostname node$i && exec slurmd -N node$i"
  else
    nsenter --net="/run/netns/slurm-node$i" unshare --uts \
      sh -c "hostname node$i && exec slurmd -N node$i"
  fi
done
idle() { [ "$(sinfo -h -N -t idle,alloc,mix -o %N | sort -u | wc -l)" -ge "$N" ]; }
if ! wait_until "$TIMEOUT" idle; then
  sinfo -N >&2 || true
  die "not every node came up within ${TIMEOUT}s; see /var/log/slurm/slurmd-node*.log"
fi
echo "cluster-up: $N nodes up (node1..node$N at $NET.11..), controller slurmctl at $NET.1"
