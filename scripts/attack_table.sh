#!/usr/bin/env bash
# mIoU (vs ground truth, the `advseg eval` protocol) of untargeted L∞ PGD on the 10 shared VOC
# images, for each loss and ε ∈ {2, 4, 8}/255: 10 steps of ε/4, no random start, against the
# clean prediction. Prints a Markdown table; the reports stay in $OUT (default out/attack_table).
# Usage: scripts/attack_table.sh [MODEL...]   (default: espnetv2-voc deeplabv3-mnv2-voc)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/advseg/target}"
cargo build --profile ci --bin advseg -q
bin="$CARGO_TARGET_DIR/ci/advseg"
voc="${ADVSEG_SHARED:-../shared}/fixtures/images/voc"
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
      python3 - "$dir/report.json" "$m" "$e" "$loss" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); o = r["overall"]
print(f"| {sys.argv[2]} | {sys.argv[3]}/255 | {sys.argv[4]} | {o['clean']['vs_ground_truth']['miou']:.4f} "
      f"| {o['adversarial']['vs_ground_truth']['miou']:.4f} | {o['quantized']['vs_ground_truth']['miou']:.4f} "
      f"| {o['adversarial']['vs_clean']['agreement']:.4f} | {o['adversarial']['psnr']:.2f} | {r['seconds']:.0f} |")
PY
    done
  done
done
