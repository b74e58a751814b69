#!/usr/bin/env bash
# The native code and the page on a real GPU, unattended, into one JSON.
#
# The GPU machine has no Rust toolchain, no network and a limit on what one call carries
# (64 MiB), so the work is split: `pack` builds here and writes the parts the GPU machine needs
# into .gpu/ (git-excluded), each part at most 60 MiB, and prints the calls to make; `run` there
# unpacks the parts it is given into /tmp/advseg-gpu (kept while the machine stays warm, so a
# second call adds to the first), runs every stage whose parts are present and that has not run
# yet, within a time budget, and writes OUT/gpu_bench.json with every stage's result so far.
#
#   scripts/gpu_bench.sh pack                       # here (needs the toolchain and ../shared)
#   scripts/gpu_bench.sh run OUT [--budget S] [--cpu]   # there (or here with --cpu: the plumbing
#                                                   # on lavapipe and SwiftShader, no GPU)
#
# Stages (in this order; each bounded by what is left of the budget, default 500 s):
#   env            nvidia-smi, the Vulkan driver files, cores
#   parity_wgpu    tests/parity.rs and tests/selfie.rs on wgpu: logits and input gradients vs
#                  PyTorch / MediaPipe (a GPU driver computing wrong numbers fails here)
#   bench_wgpu     `bench --backend wgpu` at batch 1 and 8 (forward, gradient, PGD step; first
#                  call vs warm)
#   bench_cpu      the CPU backend on every core, for comparison
#   torch_cuda     scripts/bench_torch_gpu.py: PyTorch on CUDA, same networks and weights
#                  (ESPNetv2 needs EdgeNets' code: EDGENETS_SRC at pack time)
#   webgpu_flags   which Chromium flags give the page a hardware WebGPU adapter (tried in turn)
#   browser_bench  www/bench.html: first vs later step, steps/s per backend, workers 1/2/4,
#                  batch 1 and 4, on WebGPU and the CPU pool; progress_every 1 vs 10 (read-backs)
#   calibration    the page (index.html, backend auto): which device calibration picks and why
#   camera_webgpu  tests/e2e/camera.test.mjs on WebGPU: selfie frames per second, clean and attacked
#   page_webgpu    tests/e2e/page.test.mjs on WebGPU: every mode of the page on the GPU
# A stage whose parts are missing is reported as pending with the parts it needs.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
repo="$PWD"
gpu_dir="$repo/.gpu"
max_part=$(( 60 * 1024 * 1024 ))

usage() { sed -n '2,30p' "$0" >&2; exit 2; }

# ---------------------------------------------------------------- pack (here)

# part NAME FILE...: a tar.xz of FILE... (paths relative to the current folder) as .gpu/NAME/NAME.tar.xz
part() {
  local name="$1"
  shift
  mkdir -p "$gpu_dir/$name"
  tar -cf - --dereference "$@" | xz -T2 -6 >"$gpu_dir/$name/$name.tar.xz" || { echo "gpu_bench pack: $name failed" >&2; exit 1; }
}

pack_native() {
  source scripts/env.sh
  cargo build --profile ci --bin bench || exit 1
  local t stage="$gpu_dir/stage-native"
  rm -rf "$stage"
  mkdir -p "$stage/bin" "$stage/weights" "$stage/shared/bench" "$stage/shared/weights"
  cp "$CARGO_TARGET_DIR/ci/bench" "$stage/bin/"
  for t in parity selfie; do
    cp "$(cargo test --profile ci --test "$t" --no-run --message-format=json 2>/dev/null |
      python3 -c 'import json,sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable")][-1])')" "$stage/bin/$t"
  done
  strip "$stage"/bin/* 2>/dev/null
  cp weights/*.safetensors weights/*.tflite "$stage/weights/"
  cp "$ADVSEG_SHARED"/bench/* "$stage/shared/bench/"
  cp "$ADVSEG_SHARED/weights/deeplabv3_mnv2_257_voc.onnx" "$stage/shared/weights/" 2>/dev/null
  [ -z "${EDGENETS_SRC:-}" ] || cp -r "$EDGENETS_SRC" "$stage/edgenets"
  (cd "$stage" && part native .)
  (cd "$ADVSEG_SHARED" && part fixtures-images fixtures/images)
  (cd "$ADVSEG_SHARED" && part fixtures-reference fixtures/reference)
  rm -rf "$stage"
}

# the Debian packages Chromium's headless shell needs, minus the C runtime (the GPU machine's own
# glibc and libstdc++ are used: a private copy of those cannot be loaded beside the system's)
pack_chrome() {
  local debs="$gpu_dir/debs" pkgs
  rm -rf "$debs"
  mkdir -p "$debs"
  pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances \
    chromium-headless-shell libvulkan1 nodejs | grep -E '^[a-z0-9]' | sort -u |
    grep -vxE 'libc6|libgcc-s1|libstdc\+\+6|gcc-12-base|debconf.*|perl-base|dpkg|tar|coreutils|libcrypt1|zlib1g|libselinux1|libpcre2-8-0|base-files|sensible-utils|init-system-helpers|lsb-base|sysvinit-utils|mount|util-linux|adduser|passwd|libpam.*|login|libaudit.*|libcap-ng0|libsemanage.*|libsepol2|libbz2-1.0|liblzma5|libzstd1|libudev1|libsystemd0|systemd.*|dbus.*|ucf|media-types|mime-support|x11-common|fonts-.*|fontconfig-config|libfontconfig1|libfreetype6|tzdata|libgcrypt20|libgpg-error0|liblz4-1|libcap2|libacl1|libattr1|libtinfo6|debianutils|bash|grep|sed|findutils|libdebconfclient0|libmd0|libbsd0|libsmartcols1|libblkid1|libmount1|libuuid1')
  (cd "$debs" && apt-get download $pkgs >/dev/null) || { echo "gpu_bench pack: apt-get download failed" >&2; exit 1; }
  mkdir -p "$gpu_dir/chrome"
  mv "$debs"/chromium-headless-shell_*.deb "$gpu_dir/chrome/"
  # chromium-common without what headless WebGPU does not use (validation layers, other locales)
  local common="$gpu_dir/stage-common"
  rm -rf "$common" && mkdir -p "$common" && dpkg -x "$debs"/chromium-common_*.deb "$common" && rm "$debs"/chromium-common_*.deb
  rm -f "$common"/usr/lib/chromium/libVkLayer_* "$common"/usr/lib/chromium/libVkICD_mock_icd.*
  find "$common/usr/lib/chromium/locales" -type f ! -name 'en-US*' -delete
  rm -rf "${common:?}/usr/share"
  local root="$gpu_dir/stage-libs"
  rm -rf "$root" && mkdir -p "$root"
  for d in "$debs"/*.deb; do dpkg -x "$d" "$root"; done
  rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/locale" "$root/usr/include"
  cp -a "$common/." "$root/"
  (cd "$root" && part chrome-libs .)
  rm -rf "$debs" "$common" "$root"
}

pack_web() {
  source scripts/env.sh
  scripts/web_build.sh >/dev/null || exit 1
  [ -d tests/e2e/node_modules/playwright-core ] || npm ci --prefix tests/e2e --no-audit --no-fund >/dev/null
  part web www/pkg www/weights www/samples tests/e2e/node_modules
}

pack() {
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>"$(git rev-parse --git-path info/exclude)"
  rm -rf "$gpu_dir"
  mkdir -p "$gpu_dir"
  pack_native
  pack_chrome
  pack_web
  # calls: parts in order, a call holds parts while they fit in max_part bytes
  local calls=() cur="" size=0 p s
  for p in native fixtures-images web chrome-libs fixtures-reference chrome; do
    s=$(du -cb "$gpu_dir/$p" | tail -1 | cut -f1)
    [ "$s" -le "$max_part" ] || { echo "gpu_bench pack: part $p is $s bytes, over $max_part" >&2; exit 1; }
    if [ $(( size + s )) -gt "$max_part" ] && [ -n "$cur" ]; then calls+=("$cur"); cur="" size=0; fi
    cur="${cur:+$cur,}.gpu/$p" size=$(( size + s ))
  done
  calls+=("$cur")
  du -sh "$gpu_dir"/* | sed 's/^/gpu_bench pack: /'
  echo "gpu_bench pack: ${#calls[@]} device calls, one after the other on the same warm machine:"
  local i=1
  for c in "${calls[@]}"; do
    echo "  $i. carry [\"${c//,/\", \"}\"], command: scripts/gpu_bench.sh run \$OUT --budget 420"
    i=$(( i + 1 ))
  done
  printf '%s\n' "${calls[@]}" >"$gpu_dir/calls.txt"
}

# ---------------------------------------------------------------- run (there)

work=/tmp/advseg-gpu
cpu=0 budget=500 out=""
t_start=$SECONDS

left() { echo $(( budget - (SECONDS - t_start) )); }
has() { local p; for p in "$@"; do [ -f "$work/unpacked/$p" ] || return 1; done; }
missing() { local p m=(); for p in "$@"; do [ -f "$work/unpacked/$p" ] || m+=("$p"); done; echo "${m[*]}"; }

unpack() {
  mkdir -p "$work/unpacked" "$work/root" "$work/results"
  local f name
  for f in "$gpu_dir"/*/*.tar.xz "$gpu_dir"/*/*.deb; do
    [ -e "$f" ] || continue
    name=$(basename "$(dirname "$f")")
    [ -f "$work/unpacked/$name" ] && continue
    echo "gpu_bench: unpacking $name"
    case "$name" in
      native) mkdir -p "$work/native" && xz -dc "$f" | tar -xf - -C "$work/native" ;;
      fixtures-*) mkdir -p "$work/native/shared" && xz -dc "$f" | tar -xf - -C "$work/native/shared" ;;
      web) xz -dc "$f" | tar -xf - -C "$repo" ;;
      chrome-libs) xz -dc "$f" | tar -xf - -C "$work/root" ;;
      chrome) dpkg -x "$f" "$work/root" ;;
    esac && touch "$work/unpacked/$name"
  done
  # parts already in place without packing (here, with --cpu): the checkout's own build
  if [ $cpu = 1 ]; then
    [ -d www/pkg ] && [ -d tests/e2e/node_modules/playwright-core ] && touch "$work/unpacked/web"
    [ -x /usr/bin/chromium ] && touch "$work/unpacked/chrome" "$work/unpacked/chrome-libs"
  fi
}

# the environment of the carried programs: the GPU's Vulkan driver, the private libraries
setup_env() {
  local icd
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ $cpu = 0 ] && [ -f "$icd" ]; then export VK_ICD_FILENAMES="$icd" VK_DRIVER_FILES="$icd"; break; fi
  done
  export ADVSEG_WEIGHTS_DIR="$work/native/weights" ADVSEG_SHARED="$work/native/shared"
  [ -d "$ADVSEG_SHARED" ] || export ADVSEG_SHARED="$repo/../shared"
  libs="$work/root/usr/lib/x86_64-linux-gnu:$work/root/lib/x86_64-linux-gnu"
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && libs="$libs:$d"; done
  if [ -x "$work/root/usr/lib/chromium/headless_shell" ]; then
    # a wrapper, so that only Chromium sees the private libraries
    printf '#!/bin/sh\nLD_LIBRARY_PATH="%s:%s" exec "%s" "$@"\n' "$work/root/usr/lib/chromium" "$libs" \
      "$work/root/usr/lib/chromium/headless_shell" >"$work/chromium"
    chmod +x "$work/chromium"
    export CHROMIUM="$work/chromium"
  else
    export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
  fi
  node_bin=node
  if ! command -v node >/dev/null && [ -x "$work/root/usr/bin/node" ]; then
    printf '#!/bin/sh\nLD_LIBRARY_PATH="%s" exec "%s" "$@"\n' "$libs" "$work/root/usr/bin/node" >"$work/node"
    chmod +x "$work/node"
    node_bin="$work/node"
  fi
  native_env=(env "LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
}

# stage NAME MAX_SECONDS PARTS -- FUNCTION [ARGS]: runs FUNCTION (below; output in
# results/NAME.log) in a fresh instance of this script, bounded by what is left of the budget,
# unless it already ran or its parts are missing; records status, seconds and what it measured
stage() {
  local name="$1" max="$2" parts=() rc t0 lim
  shift 2
  while [ "$1" != -- ]; do parts+=("$1"); shift; done
  shift
  local res="$work/results/$name.json"
  if [ -f "$res" ] && ! grep -q '"status": "pending' "$res"; then return 0; fi
  if ! has "${parts[@]}"; then
    printf '{"status": "pending", "needs": "%s"}\n' "$(missing "${parts[@]}")" >"$res"
    return 0
  fi
  lim=$(left)
  [ "$lim" -gt "$max" ] && lim=$max
  if [ "$lim" -lt 20 ]; then printf '{"status": "pending", "needs": "time (the budget is spent)"}\n' >"$res"; return 0; fi
  echo "== gpu_bench: $name (at most $lim s)"
  t0=$SECONDS
  GPU_BENCH_CPU=$cpu timeout -k 10 "$lim" "$0" _do "$@" >"$work/results/$name.log" 2>&1
  rc=$?
  tail -4 "$work/results/$name.log"
  python3 - "$rc" "$(( SECONDS - t0 ))" "$work/results/$name.log" "$work/results/$name.data" >"$res" <<'PY'
import json, sys
rc, secs, log, data = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
r = {"status": "ok" if rc == 0 else ("timeout" if rc in (124, 137) else "failed"), "exit": rc, "seconds": secs}
lines = open(log, errors="replace").read().splitlines()
# what the programs printed as JSON: {"k": v} lines (the e2e scripts), `json: {...}` (bench)
vals = []
for l in lines:
    l = l[5:].strip() if l.startswith("json:") else l.strip()
    if l.startswith("{") and l.endswith("}"):
        try:
            vals.append(json.loads(l))
        except ValueError:
            pass
if vals:
    r["printed"] = vals
try:
    r["data"] = json.load(open(data))
except (OSError, ValueError):
    pass
r["tail"] = lines[-15:]
print(json.dumps(r, indent=1))
PY
}

# the stages' bodies (run as `gpu_bench.sh _do FUNCTION`)
st_env() {
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || [ "$cpu" = 1 ]
  echo "cores: $(nproc); VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}; Chromium: $CHROMIUM; node: $node_bin"
}
st_parity() { "${native_env[@]}" ADVSEG_REQUIRE_WGPU=1 "$work/native/bin/$1" --test-threads 1 --nocapture "$2"; }
st_bench_wgpu() {
  local b
  for b in 1 8; do
    "${native_env[@]}" "$work/native/bin/bench" --backend wgpu --models "$models" --batch "$b" --repeats "${GPU_BENCH_REPEATS:-10}" \
      --warm-up --json "$work/b$b.json" || return 1
  done
  python3 -c 'import json,sys; print(json.dumps({"batch_1": json.load(open(sys.argv[1])), "batch_8": json.load(open(sys.argv[2]))}))' \
    "$work/b1.json" "$work/b8.json" >"$work/results/bench_wgpu.data"
}
st_bench_cpu() {
  "${native_env[@]}" "$work/native/bin/bench" --backend cpu --models espnetv2-voc,deeplabv3-mnv2-voc --batch 1 --repeats 3 \
    --json "$work/results/bench_cpu.data"
}
st_torch() {
  local nets=deeplabv3-mnv2-voc
  [ -d "$work/native/edgenets" ] && nets="$models"
  python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' || { echo "python3 has no torch with CUDA"; return 1; }
  EDGENETS_SRC="$work/native/edgenets" python3 scripts/bench_torch_gpu.py --models "$nets" --batches 1,8 --reps 10 \
    --json "$work/results/torch_cuda.data"
}
# the first flag set that gives the page a hardware WebGPU adapter (none expected with --cpu)
webgpu_flags() {
  local sets=(
    "--enable-features=Vulkan --use-vulkan=native --use-angle=vulkan --disable-vulkan-surface --ignore-gpu-blocklist"
    "--enable-features=Vulkan,VulkanFromANGLE,DefaultANGLEVulkan --use-angle=vulkan --ignore-gpu-blocklist"
    "--ignore-gpu-blocklist --enable-gpu"
  ) f
  for f in "${sets[@]}"; do
    echo "flags: $f"
    CHROMIUM_FLAGS="$f" "$node_bin" scripts/web_bench_page.mjs --model deeplabv3-mnv2-voc --backends webgpu --workers 1 --batches 1 \
      --steps 2 --json "$work/probe.json" --timeout 60 >/dev/null 2>&1
    if python3 -c 'import json,sys; a=json.load(open(sys.argv[1])).get("adapter") or {}; print("adapter:", a); sys.exit(0 if a.get("kind") == "hardware" else 1)' "$work/probe.json"; then
      python3 -c 'import json,sys; print(json.dumps({"flags": sys.argv[1]}))' "$f" >"$work/results/webgpu_flags.data"
      echo "$f" >"$work/flags"
      return 0
    fi
  done
  : >"$work/flags"
  [ "$cpu" = 1 ] && { echo "--cpu: no hardware adapter expected; the browser stages use SwiftShader (--force-webgpu)"; return 0; }
  return 1
}
# the page's own path on WebGPU and the CPU pool (default attack: first vs later step, steps/s),
# then PGD on WebGPU reading back every step vs every 10th (compare attack_s: same attack)
browser_bench() {
  local force=() every rc=0 steps="${GPU_BENCH_STEPS:-6}"
  [ "$cpu" = 1 ] && force=(--force-webgpu)
  bench_page() { CHROMIUM_FLAGS="$(cat "$work/flags")" "$node_bin" scripts/web_bench_page.mjs --model espnetv2-voc-s0.5 "${force[@]}" "$@"; }
  bench_page --backends webgpu,cpu --workers "${GPU_BENCH_WORKERS:-1,2,4}" --batches 1,4 --steps "$steps" --json "$work/bb.json" || rc=1
  for every in 1 10; do
    bench_page --backends webgpu --workers 1 --batches 1,4 --kind pgd --steps 20 --progress-every "$every" --json "$work/bb$every.json" || rc=1
  done
  python3 -c 'import json,sys; l=lambda f: json.load(open(f)); print(json.dumps({"default_attack": l(sys.argv[1]), "pgd_progress_every_1": l(sys.argv[2]), "pgd_progress_every_10": l(sys.argv[3])}))' \
    "$work/bb.json" "$work/bb1.json" "$work/bb10.json" >"$work/results/browser_bench.data"
  return $rc
}
st_calibration() { CHROMIUM_FLAGS="$(cat "$work/flags")" "$node_bin" scripts/gpu_page_probe.mjs --json "$work/results/calibration.data"; }
st_e2e() {
  local backend=webgpu
  [ "$cpu" = 1 ] && [ "$1" = page ] && backend=cpu # SwiftShader would take most of an hour
  CHROMIUM_FLAGS="$(cat "$work/flags")" E2E_BACKEND=$backend "$node_bin" "tests/e2e/$1.test.mjs"
}

run() {
  [ -n "$out" ] || usage
  mkdir -p "$out" "$work"
  unpack
  stage env 30 -- st_env
  stage parity_wgpu 150 native fixtures-reference fixtures-images -- st_parity parity on_wgpu
  stage parity_selfie_wgpu 90 native fixtures-reference fixtures-images -- st_parity selfie masks_match_mediapipe_on_wgpu
  stage bench_wgpu 150 native -- st_bench_wgpu
  stage bench_cpu 90 native -- st_bench_cpu
  [ $cpu = 1 ] || stage torch_cuda 120 native -- st_torch
  stage webgpu_flags 200 web chrome chrome-libs -- webgpu_flags
  stage browser_bench 240 web chrome chrome-libs -- browser_bench
  stage calibration 90 web chrome chrome-libs -- st_calibration
  stage camera_webgpu 240 web chrome chrome-libs fixtures-images -- st_e2e camera
  stage page_webgpu 300 web chrome chrome-libs fixtures-images -- st_e2e page
  python3 - "$work/results" "$out/gpu_bench.json" "$cpu" <<'PY'
import json, os, sys
d, out, cpu = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
order = ["env", "parity_wgpu", "parity_selfie_wgpu", "bench_wgpu", "bench_cpu", "torch_cuda", "webgpu_flags",
         "browser_bench", "calibration", "camera_webgpu", "page_webgpu"]
stages = {}
for s in order:
    try:
        stages[s] = json.load(open(os.path.join(d, s + ".json")))
    except (OSError, ValueError):
        pass
r = {"schema": "advseg.gpu_bench/1", "mode": "cpu: the plumbing only, no GPU" if cpu else "gpu", "stages": stages,
     "pending": [s for s, v in stages.items() if v.get("status") == "pending"],
     "failed": [s for s, v in stages.items() if v.get("status") in ("failed", "timeout")]}
json.dump(r, open(out, "w"), indent=1)
print(f"gpu_bench: {out}: " + ", ".join(f"{s} {v.get('status')}" for s, v in stages.items()))
PY
  cp "$work"/results/*.log "$out/" 2>/dev/null
  return 0
}

models="${GPU_BENCH_MODELS:-espnetv2-voc,deeplabv3-mnv2-voc,espnetv2-city}"
case "${1:-}" in
  pack) pack ;;
  _do)
    shift
    cpu="${GPU_BENCH_CPU:-0}"
    setup_env
    "$@" ;;
  run)
    shift
    out="${1:-}"
    shift || usage
    while [ $# -gt 0 ]; do
      case "$1" in
        --budget) budget="$2"; shift ;;
        --cpu) cpu=1 ;;
        *) usage ;;
      esac
      shift
    done
    setup_env
    run ;;
  *) usage ;;
esac
