#!/usr/bin/env bash
# Submit an experiment as a Slurm job array of N shards plus a merge job that runs when all
# shards succeeded. Prints the two job ids.
#   deploy/slurm/submit.sh EXPERIMENT.toml RUN_DIR N [extra sbatch options, e.g. --partition=gpu --gres=gpu:1]
# Environment passed on: ADVSEG_BIN (the advseg binary, default: advseg on PATH),
# ADVSEG_BACKEND (cpu|wgpu), ADVSEG_SHARED and ADVSEG_WEIGHTS_DIR (weights and fixtures).
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 EXPERIMENT.toml RUN_DIR N [sbatch options]" >&2; exit 2; }
exp="$(realpath "$1")"; out="$(realpath -m "$2")"; n="$3"; shift 3
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive number of shards, got '$n'" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"
export ADVSEG_EXPERIMENT="$exp" ADVSEG_OUT="$out"
array=$(sbatch --parsable --array="0-$((n - 1))" --chdir="$out" --export=ALL "$@" "$here/array.sbatch")
merge=$(sbatch --parsable --dependency="afterok:${array%%;*}" --chdir="$out" --export=ALL "$@" "$here/merge.sbatch")
echo "array job ${array%%;*} ($n shards), merge job ${merge%%;*}: results in ${ADVSEG_RESULTS:-$out/results}"
