#!/usr/bin/env bash
# The command-line demo: segment sample images with every VOC model and evaluate them against ground truth.
# Writes colour maps and overlays to out/demo/ and prints per-class shares and mIoU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
cargo build --profile ci --bin advseg -q
bin="$ADVSEG_BIN"
samples="$ADVSEG_SHARED/fixtures/images"
[ -d "$samples" ] || { echo "demo: sample images not found at $samples (set ADVSEG_SHARED)" >&2; exit 1; }
"$bin" models
"$bin" segment --model espnetv2-voc --out out/demo "$samples"/voc/294.png "$samples"/voc/8.png "$samples"/photos/horse.png
"$bin" eval --model espnetv2-voc --images "$samples"/voc
"$bin" eval --model deeplabv3-mnv2-voc --images "$samples"/voc
echo "demo: colour maps and overlays are in out/demo/"
