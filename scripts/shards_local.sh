#!/usr/bin/env bash
# Run an experiment as N shards in parallel on this machine, then merge them — the same shard
# and merge path as a cluster job array (deploy/slurm, deploy/k8s), without a scheduler.
#   scripts/shards_local.sh EXPERIMENT.toml RUN_DIR N [--gpus G]
# Each shard gets cores/N CPU threads; with --gpus G the shards use the wgpu backend, shard k
# on GPU (k-1) mod G. A shard that fails is reported and the merge is not attempted; rerunning
# the same command redoes only the units that are not in RUN_DIR yet.
# Results: RUN_DIR/results/results.{md,json}; per-image rows: RUN_DIR/rows-K-of-N.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
[ $# -ge 3 ] || { echo "usage: $0 EXPERIMENT.toml RUN_DIR N [--gpus G]" >&2; exit 2; }
exp="$1"; out="$2"; n="$3"; shift 3
gpus=0
while [ $# -gt 0 ]; do
  case "$1" in
    --gpus) gpus="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive number of shards, got '$n'" >&2; exit 2; }
bin="${ADVSEG_BIN:-advseg}"
[ -x "$bin" ] || bin=advseg
cores=$(nproc)
threads=$(( cores / n > 0 ? cores / n : 1 ))
mkdir -p "$out"
pids=()
for k in $(seq 1 "$n"); do
  backend=cpu
  [ "$gpus" -gt 0 ] && backend="wgpu:$(( (k - 1) % gpus ))"
  RAYON_NUM_THREADS="$threads" "$bin" --backend "$backend" eval --experiment "$exp" --shard "$k/$n" --out "$out" \
    >"$out/shard-$k-of-$n.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "shard $((i + 1))/$n failed: see $out/shard-$((i + 1))-of-$n.log" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1
"$bin" merge "$out" --out "$out/results" >/dev/null
echo "merged $n shards: $out/results/results.md, $out/results/results.json"
