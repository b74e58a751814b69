#!/usr/bin/env bash
# mIoU (vs ground truth, the `advseg eval` protocol) of untargeted L∞ PGD on the 10 shared VOC
# images, for each loss and ε ∈ {2, 4, 8}/255: 10 steps of ε/4, no random start, against the
# clean prediction. Prints a Markdown table; the reports stay in $OUT (default out/attack_table).
# Usage: scripts/attack_table.sh [MODEL...]   (default: espnetv2-voc deeplabv3-mnv2-voc)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --profile ci --bin advseg -q
bin="$ADVSEG_BIN"
voc="$ADVSEG_SHARED/fixtures/images/voc"
out="${OUT:-out/attack_table}"
models=("$@"); [ ${#models[@]} -gt 0 ] || models=(espnetv2-voc deeplabv3-mnv2-voc)
images=(); for n in 0 1 8 20 23 114 166 294 417 474; do images+=("$voc/$n.png"); done
echo "| model | ε | loss | clean mIoU | adv. mIoU | 8-bit mIoU | agreement with clean | PSNR (dB) | seconds |"
echo "|---|---|---|---|---|---|---|---|---|"
for m in "${models[@]}"; do
  for e in 2 4 8; do
    for loss in ce segpgd cospgd; do
      dir="$out/$m-eps$e-$loss"
      "$bin" attack --model "$m" --eps "$e/255" --steps 10 --loss "$loss" "${images[@]}" --out "$dir" >/dev/null 2>&1
      python3 scripts/attack_table_row.py "$dir/report.json" "$m" "$e" "$loss"
    done
  done
done
