#!/usr/bin/env bash
# The budget studies of docs/results.md (issue 22): APGD (its first step 2ε or KIND:F for F·ε)
# against PGD with fixed steps F·ε at several step budgets. Prints a Markdown table; the reports
# stay in $OUT.
#
#   scripts/step_study.sh targeted [MODEL] [BUDGETS] [IMAGES]
#     a batch of 4 VOC images, each pushed to the clean map of image 2 (ε = 8/255, CE); cells:
#     mean agreement with the target (real-valued / 8-bit), of all 4 and of the 3 others.
#     Defaults: espnetv2-voc, "5 10 20 50", the seed's batch "294 474 23 8" (474 is the target).
#   scripts/step_study.sh untargeted [MODEL] [BUDGETS] [IMAGES]
#     the images attacked untargeted (ε = $EPS, default 1/255, CE, labels = the ground truth);
#     cells: pooled pixel accuracy and mIoU against the ground truth, real-valued.
#     Defaults: deeplabv3-mnv2-voc, "5 10 20 50", the 10 shared images.
# ATTACKS lists the attacks as KIND or KIND:F (default: APGD at 2ε and ε/2, PGD at ε/4, ε/8, ε/16).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --profile ci --bin advseg -q
bin="$ADVSEG_BIN"
voc="$ADVSEG_SHARED/fixtures/images/voc"
goal="${1:?targeted or untargeted}"
case "$goal" in
  targeted)
    model="${2:-espnetv2-voc}"; eps=8/255; names="${4:-294 474 23 8}"
    flags=(--mode targeted-image --target-index 2)
    echo "| attack | steps | mean agreement, all 4 (real-valued / 8-bit) | mean of the 3 others (real-valued / 8-bit) | seconds |"
    echo "|---|---|---|---|---|" ;;
  untargeted)
    model="${2:-deeplabv3-mnv2-voc}"; eps="${EPS:-1/255}"; names="${4:-0 1 8 20 23 114 166 294 417 474}"
    flags=(--vs-gt)
    echo "| attack | steps | pixel accuracy | mIoU | seconds |"
    echo "|---|---|---|---|---|" ;;
  *) echo "step_study.sh: the first argument is targeted or untargeted, not '$goal'" >&2; exit 2 ;;
esac
out="${OUT:-out/step_study}/$goal"
read -r -a budgets <<< "${3:-5 10 20 50}"
images=(); for n in $names; do images+=("$voc/$n.png"); done
for t in "${budgets[@]}"; do
  for a in ${ATTACKS:-apgd apgd:0.5 pgd:0.25 pgd:0.125 pgd:0.0625}; do
    kind="${a%%:*}"; step=()
    [ "$kind" = "$a" ] || step=(--step-size "$(python3 -c "from fractions import Fraction as F; print(${a#*:} * float(F('$eps')))")")
    dir="$out/$model-${eps/\//_}-$kind-${a#*:}-$t"
    "$bin" attack --model "$model" --eps "$eps" --steps "$t" --kind "$kind" "${step[@]}" "${flags[@]}" \
      "${images[@]}" --out "$dir" >/dev/null 2>&1
    python3 - "$dir/report.json" "$a" "$t" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
row = f"| {sys.argv[2]} | {sys.argv[3]} |"
if r["spec"]["goal"] == "untargeted":
    m = r["overall"]["adversarial"]["vs_ground_truth"]
    print(f"{row} {m['pixel_accuracy']:.4f} | {m['miou']:.4f} | {r['seconds']:.0f} |")
else:
    target = r["spec"]["target_index"] - 1
    def mean(key, skip=None):
        a = [i[key]["vs_target"]["agreement"] for k, i in enumerate(r["images"]) if k != skip]
        return sum(a) / len(a)
    print(f"{row} {mean('adversarial'):.4f} / {mean('quantized'):.4f} "
          f"| {mean('adversarial', target):.4f} / {mean('quantized', target):.4f} | {r['seconds']:.0f} |")
PY
  done
done
