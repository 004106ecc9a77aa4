#!/bin/bash
# pilot.sh: one pilot is one Slurm job; this script starts one pilot agent on
# every node of the job. The agents find the campaign's other agents (this
# pilot's and other pilots'), take tasks from the queue, and drain before the
# walltime. Submit it with sbatch, by hand or through `pilot launch`:
#
#   PILOT_SITE=site.toml PILOT_QUEUE=tasks.jsonl sbatch pilot.sh
#   sbatch -N 64 --time=12:00:00 pilot.sh --site site.toml --queue https://host/c/nmr
#
# What it reads (arguments win over the environment):
#   --site FILE   | PILOT_SITE   the site config (required; see examples/site-*.toml)
#   --queue Q     | PILOT_QUEUE  the upstream queue: a JSONL file or a URL
#                                (optional when the site config names one)
#   -- ARGS...    | PILOT_AGENT_ARGS   more arguments for `pilot agent`
#   PILOT_BIN     the pilot binary (default: `pilot` on PATH, then
#                 $SLURM_SUBMIT_DIR/bin/pilot)
#
# sbatch exports your environment to the job (--export=ALL), so variables
# set where you run sbatch reach this script.
#
# The #SBATCH lines below are defaults; options on the sbatch command line
# override them (pilot launch passes nodes, time, partition, account and the
# drain signal from the site config). Keep these three whatever you change:
#   --no-kill           the pilot survives the loss of a node (the other
#                       agents carry on; the lost node's tasks run elsewhere)
#   --signal=B:USR1@N   Slurm sends SIGUSR1 to this script N seconds (plus up
#                       to 30) before the walltime; it is passed on to every
#                       agent, which then starts nothing that cannot finish,
#                       hands its work back and leaves the cluster
#   --open-mode=append  a requeued pilot appends to its log instead of
#                       truncating it
#SBATCH --job-name=pilot
#SBATCH --nodes=1
#SBATCH --exclusive
#SBATCH --time=01:00:00
#SBATCH --no-kill
#SBATCH --signal=B:USR1@300
#SBATCH --open-mode=append
#SBATCH --output=pilot-%j.out
set -uo pipefail

log() { echo "pilot.sh: $(date -u +%FT%TZ) job ${SLURM_JOB_ID:-?}: $*" >&2; }
die() { log "$1"; [ -n "${2:-}" ] && echo "hint: $2" >&2; exit 2; }

site=${PILOT_SITE:-}
queue=${PILOT_QUEUE:-}
read -r -a extra <<<"${PILOT_AGENT_ARGS:-}"
while [ $# -gt 0 ]; do
  case $1 in
    --site) [ $# -ge 2 ] || die "--site needs a FILE"; site=$2; shift 2 ;;
    --site=*) site=${1#--site=}; shift ;;
    --queue) [ $# -ge 2 ] || die "--queue needs a file or URL"; queue=$2; shift 2 ;;
    --queue=*) queue=${1#--queue=}; shift ;;
    --) shift; extra+=("$@"); break ;;
    *) die "unknown argument '$1'" "pilot.sh [--site FILE] [--queue FILE|URL] [-- AGENT ARGS]" ;;
  esac
done

[ -n "${SLURM_JOB_ID:-}" ] || die "not inside a Slurm job" "submit it: sbatch pilot.sh"
[ -n "$site" ] || die "no site config" "set PILOT_SITE=FILE or pass --site FILE"
# The job may start in another directory than the one sbatch ran in.
case $site in /*) ;; *) site=$SLURM_SUBMIT_DIR/$site ;; esac
[ -r "$site" ] || die "site config '$site' is not readable" "give a path on a filesystem the nodes share"
if [ -n "$queue" ] && [[ $queue != *://* ]] && [[ $queue != /* ]]; then
  queue=$SLURM_SUBMIT_DIR/$queue
fi

bin=${PILOT_BIN:-}
if [ -z "$bin" ]; then
  bin=$(command -v pilot || true)
  [ -n "$bin" ] || bin=$SLURM_SUBMIT_DIR/bin/pilot
fi
[ -x "$bin" ] || die "pilot binary '$bin' is not executable" "put pilot on PATH or set PILOT_BIN"

agent=("$bin" agent --site "$site")
[ -n "$queue" ] && agent+=(--queue "$queue")
agent+=("${extra[@]}")

log "nodes ${SLURM_JOB_NODELIST:-?}, restart ${SLURM_RESTART_COUNT:-0}: ${agent[*]}"

# The walltime warning (USR1) reaches the agents as a drain file in the
# job's working directory, which every node sees: the agents look for it
# every second. Not as a signal through srun: Slurm signals every process of
# the step, the running tasks too, and USR1 would kill them. TERM (the job
# is being killed) goes through srun. A signal that comes before the step
# exists means the allocation ends already.
drain_file=$PWD/.pilot-drain-$SLURM_JOB_ID
rm -f "$drain_file"
export PILOT_DRAIN_FILE=$drain_file
step=
pending=
stopping=
# shellcheck disable=SC2317 # called from the traps below
forward() {
  log "got SIG$1, passing it to the agents"
  [ "$1" = USR1 ] && : >"$drain_file"
  [ "$1" != USR1 ] && stopping=1
  if [ -z "$step" ]; then
    pending=$1
  elif [ "$1" != USR1 ]; then
    kill -s "$1" "$step" 2>/dev/null
  fi
}
trap 'forward USR1' USR1
trap 'forward TERM' TERM
trap 'forward TERM' INT

if [ -n "$pending" ]; then
  log "the allocation is ending before the agents started; not starting them"
  exit 0
fi

# One agent per node, with every CPU and all the memory of its node (the
# agent pins tasks itself). --no-kill keeps the step alive when a node is
# lost; --kill-on-bad-exit=0 keeps one agent's crash from ending the others.
# start_step runs one agent per node of the allocation as it is now: after a
# node loss the job is smaller than SLURM_JOB_NUM_NODES says.
start_step() {
  local nodes=${SLURM_JOB_NUM_NODES:-1} list=
  if [ "$restarts" -gt 0 ]; then
    nodes=$(squeue -h -j "$SLURM_JOB_ID" -o %D 2>/dev/null || echo "$nodes")
    list=$(squeue -h -j "$SLURM_JOB_ID" -o %N 2>/dev/null || true)
  fi
  srun --no-kill --kill-on-bad-exit=0 --ntasks-per-node=1 --nodes="$nodes" ${list:+--nodelist="$list"} \
    --cpus-per-task="${SLURM_CPUS_ON_NODE:-1}" --mem=0 \
    "${agent[@]}" &
  step=$!
  [ -n "$pending" ] && [ "$pending" != USR1 ] && kill -s "$pending" "$step" 2>/dev/null
}

# Slurm keeps a --no-kill job alive when it loses a node, but the step that
# spanned the node may still die with it. Then the agents on the nodes that
# remain are gone too: start them again (they recover from their data
# directories and rejoin), unless the pilot is draining or ending.
restarts=0
max_restarts=${PILOT_STEP_RESTARTS:-3}
while :; do
  start_step
  rc=0
  while :; do
    wait "$step"
    rc=$?
    kill -0 "$step" 2>/dev/null || break
  done
  if [ "$rc" -gt 128 ]; then
    # The last wait may have been cut short by a signal as the step ended;
    # ask once more for the step's own status.
    wait "$step" 2>/dev/null
    last=$?
    [ "$last" -ne 127 ] && rc=$last
  fi
  if [ "$rc" -eq 0 ] || [ -n "$pending" ] || [ -n "$stopping" ] || [ -e "$drain_file" ] || [ "$restarts" -ge "$max_restarts" ]; then
    break
  fi
  restarts=$((restarts + 1))
  log "the agents' step ended with exit code $rc while the pilot has time left (a lost node?): starting it again on the nodes that remain ($restarts of $max_restarts)"
  sleep 2
done
rm -f "$drain_file"
log "agents ended with exit code $rc"
exit "$rc"
