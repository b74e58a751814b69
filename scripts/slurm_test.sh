#!/usr/bin/env bash
# The cluster path on a real scheduler: brings up a single-node Slurm on localhost (Debian's
# slurmctld + slurmd, authenticated by munge; everything in a temporary folder, on unused
# ports), submits experiments/ci_shards.toml as a job array of 4 shards plus the merge job
# through deploy/slurm/submit.sh, waits (bounded), and checks that the merged results.json is
# byte-identical to a single process's. Stops the daemons on exit. Run by scripts/test.sh.
#
# Any user: the daemons run as the invoking user (SlurmUser = SlurmdUser = you, a private munge
# key and socket), so root is not needed; as root they run as root. Where it cannot run — the
# packages are missing (scripts/setup.sh installs slurmctld slurmd slurm-client munge), or, for
# a user other than root, the daemons do not come up — it skips with the reason (advseg_skip,
# counted by test.sh; a failure under ADVSEG_FORBID_SKIPS=1). As root, daemons that do not
# come up are a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
limit="${ADVSEG_SLURM_TEST_LIMIT:-900}"
for c in slurmctld slurmd sbatch squeue sinfo munged; do
  if ! command -v "$c" >/dev/null; then
    advseg_skip "slurm test" "$c is missing (scripts/setup.sh installs slurmctld slurmd slurm-client munge, as root or with sudo)"
    exit $?
  fi
done
if [ ! -d "$ADVSEG_SHARED/fixtures/images" ]; then
  advseg_skip "slurm test" "it runs an experiment on the shared fixtures, and $ADVSEG_SHARED/fixtures is absent"
  exit $?
fi
me="$(id -un)"
[ -x "$ADVSEG_BIN" ] || cargo build -q --profile ci --bin advseg

work="$(mktemp -d /tmp/advseg-slurm.XXXXXX)"
host="$(hostname -s)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "${ADVSEG_KEEP_SLURM:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work"/{munge,state,spool,run}
chmod 700 "$work/munge"

# munge: its own key and socket
head -c 1024 /dev/urandom >"$work/munge/munge.key"
chmod 400 "$work/munge/munge.key"
munged --force --foreground --key-file="$work/munge/munge.key" --socket="$work/munge/munge.socket" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed" >"$work/munged.out" 2>&1 &
pids+=($!)

port=$(( 20000 + RANDOM % 20000 ))
cat >"$work/slurm.conf" <<CONF
ClusterName=advsegtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$(( port + 1 ))
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
SlurmUser=$me
SlurmdUser=$me
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
for _ in $(seq 1 50); do [ -S "$work/munge/munge.socket" ] && break; sleep 0.1; done
slurmctld -D -f "$SLURM_CONF" >"$work/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$work/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break
  sleep 0.3
done
if ! sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
  cat "$work"/*.out "$work"/slurm*.log 2>/dev/null | tail -20
  why="the single-node Slurm did not come up as $me (logs above)"
  [ "$me" != root ] || { echo "slurm test: FAILED: $why" >&2; exit 1; }
  advseg_skip "slurm test" "$why; as root it runs as root"
  exit $?
fi
echo "slurm test: single-node Slurm $(sinfo -V | cut -d' ' -f2) up on $host ($(nproc) CPUs), daemons running as $me"

start=$(date +%s)
exp="experiments/ci_shards.toml"
out="$work/run-dir"
export ADVSEG_BIN ADVSEG_SHARED ADVSEG_WEIGHTS_DIR="${ADVSEG_WEIGHTS_DIR:-$PWD/weights}"
deploy/slurm/submit.sh "$exp" "$out" 4 --cpus-per-task=1
while squeue -h | grep -q .; do
  [ $(( $(date +%s) - start )) -lt "$limit" ] || { echo "slurm test: jobs still queued after ${limit} s"; squeue; exit 1; }
  sleep 2
done
took=$(( $(date +%s) - start ))
for f in "$out"/advseg-*.out; do echo "--- $(basename "$f")"; tail -3 "$f"; done
[ -f "$out/results/results.json" ] || { echo "slurm test: the merge job wrote no results"; cat "$work"/slurm*.log | tail -30; exit 1; }
"$ADVSEG_BIN" eval --experiment "$exp" --out "$work/single" >/dev/null 2>&1
cmp "$out/results/results.json" "$work/single/results.json" \
  || { echo "slurm test: the merged results differ from one process's"; exit 1; }
echo "slurm test: 4 array shards + merge in ${took} s; merged results.json == single run's"
