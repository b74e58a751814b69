#!/usr/bin/env bash
# The targeted budget study of docs/results.md (issue 22, item 2): a batch of 4 VOC images, each
# pushed to the clean map of image 2 (ESPNetv2 s = 2.0, ε = 8/255, CE), at several budgets, by
# APGD and by PGD with fixed steps ε/4, ε/8 and ε/16. Prints a Markdown table of the mean
# agreement with the target (real-valued and 8-bit) over the batch; the reports stay in $OUT.
# Usage: scripts/targeted_study.sh [MODEL] [BUDGETS] [IMAGES]; ATTACKS (or EXTRA, added) lists the
# attacks as KIND or KIND:STEP/ε (APGD: its initial step).
#   defaults: espnetv2-voc, "5 10 20 50", the seed's batch "294 474 23 8" (474 is the target)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --profile ci --bin advseg -q
bin="$ADVSEG_BIN"
voc="$ADVSEG_SHARED/fixtures/images/voc"
out="${OUT:-out/targeted_study}"
model="${1:-espnetv2-voc}"
read -r -a budgets <<< "${2:-5 10 20 50}"
read -r -a names <<< "${3:-294 474 23 8}"
images=(); for n in "${names[@]}"; do images+=("$voc/$n.png"); done
echo "| attack | steps | mean agreement, all 4 (real-valued / 8-bit) | mean of the 3 others (real-valued / 8-bit) | seconds |"
echo "|---|---|---|---|---|"
for t in "${budgets[@]}"; do
  for a in ${ATTACKS:-apgd pgd:0.25 pgd:0.125 pgd:0.0625} ${EXTRA:-}; do
    kind="${a%%:*}"; flags=(--kind "$kind")
    [ "$kind" = "$a" ] || flags+=(--step-size "$(python3 -c "print(${a#*:} * 8 / 255)")")
    dir="$out/$model-$kind-${a#*:}-$t"
    "$bin" attack --model "$model" --mode targeted-image --target-index 2 --eps 8/255 --steps "$t" "${flags[@]}" \
      "${images[@]}" --out "$dir" >/dev/null 2>&1
    python3 - "$dir/report.json" "$a" "$t" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
target = r["spec"]["target_index"] - 1
def mean(key, skip=None):
    a = [i[key]["vs_target"]["agreement"] for k, i in enumerate(r["images"]) if k != skip]
    return sum(a) / len(a)
print(f"| {sys.argv[2]} | {sys.argv[3]} | {mean('adversarial'):.4f} / {mean('quantized'):.4f} "
      f"| {mean('adversarial', target):.4f} / {mean('quantized', target):.4f} | {r['seconds']:.0f} |")
PY
  done
done
