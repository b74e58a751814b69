#!/usr/bin/env bash
# The untargeted budget study of docs/results.md (issue 22): the shared VOC images attacked
# untargeted (CE, labels = the ground truth), at several step budgets, by APGD (its authors'
# initial step 2ε, or KIND:F for an initial step F·ε) and by PGD with fixed steps F·ε. Prints a
# Markdown table of the pooled pixel accuracy and mIoU against the ground truth, real-valued.
# Usage: scripts/untargeted_study.sh [MODEL] [EPS] [BUDGETS] [IMAGES]; ATTACKS lists the attacks
#   defaults: deeplabv3-mnv2-voc, 1/255, "5 10 20 50", the 10 shared images; reports in $OUT
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --profile ci --bin advseg -q
bin="$ADVSEG_BIN"
voc="$ADVSEG_SHARED/fixtures/images/voc"
out="${OUT:-out/untargeted_study}"
model="${1:-deeplabv3-mnv2-voc}"
eps="${2:-1/255}"
read -r -a budgets <<< "${3:-5 10 20 50}"
read -r -a names <<< "${4:-0 1 8 20 23 114 166 294 417 474}"
images=(); for n in "${names[@]}"; do images+=("$voc/$n.png"); done
echo "| attack | steps | pixel accuracy | mIoU | seconds |"
echo "|---|---|---|---|---|"
for t in "${budgets[@]}"; do
  for a in ${ATTACKS:-apgd apgd:0.5 pgd:0.25 pgd:0.125}; do
    kind="${a%%:*}"; flags=(--kind "$kind")
    [ "$kind" = "$a" ] || flags+=(--step-size "$(python3 -c "e = $eps; print(${a#*:} * e)")")
    dir="$out/$model-${eps/\//_}-$kind-${a#*:}-$t"
    "$bin" attack --model "$model" --eps "$eps" --steps "$t" --vs-gt "${flags[@]}" "${images[@]}" --out "$dir" >/dev/null 2>&1
    python3 - "$dir/report.json" "$a" "$t" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = r["overall"]["adversarial"]["vs_ground_truth"]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {m['pixel_accuracy']:.4f} | {m['miou']:.4f} | {r['seconds']:.0f} |")
PY
  done
done
