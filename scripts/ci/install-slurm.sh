#!/usr/bin/env bash
# Install what the real-Slurm tests need (batch/slurm_cluster_test.go and
# the end-to-end tests): Debian's Slurm 22.05 controller, node daemon and
# client, munge, the network tools scripts/slurm/cluster-up.sh and the chaos
# network scenarios use, and python3 (the chaos namespace test's listener).
# .ci/run runs every scripts/ci/install-*.sh before `make test`.
# Idempotent and quick when everything is there; needs root otherwise.
set -euo pipefail

need=(slurmctld slurmd slurm-client munge iproute2 iptables python3)
missing=()
for pkg in "${need[@]}"; do
  dpkg-query -W -f '${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-slurm: already installed"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "install-slurm: needs root to install: ${missing[*]}" >&2; exit 1; }
echo "install-slurm: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The image's policy-rc.d keeps the postinst scripts from starting daemons;
# cluster-up.sh starts them itself.
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "install-slurm: done"
