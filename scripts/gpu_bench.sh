#!/usr/bin/env bash
# GPU benchmark and parity on a machine with a real GPU (Vulkan driver): the wgpu parity tests
# (logits and input gradients vs PyTorch), `bench --backend wgpu` at batch 1 and 8, the CPU
# backend on every core for comparison, and PyTorch on CUDA on the same networks and weights
# (scripts/bench_torch_gpu.py) when python3 has torch with CUDA.
#
#   scripts/gpu_bench.sh OUT_DIR
#
# Binaries: $ADVSEG_BENCH_BIN and $ADVSEG_PARITY_BIN when set (prebuilt copies carried to a
# machine without a toolchain), else built here with the `ci` profile. Weights: $ADVSEG_WEIGHTS_DIR
# or weights/. Fixtures: $ADVSEG_SHARED. EdgeNets' model code for PyTorch's ESPNetv2: $EDGENETS_SRC.
# Writes OUT_DIR/{parity.log, wgpu_b1.json, wgpu_b8.json, cpu_b1.json, torch_cuda.json, bench.log},
# and browser.json (scripts/web_bench_page.mjs: the page's CPU worker pool and WebGPU) where
# Chromium, node and a built www/ exist (CHROMIUM_FLAGS: its GPU flags; the default, Vulkan's,
# has not been tried on a GPU machine yet: browser.json's `adapter` says what the page got).
set -uo pipefail
source "$(dirname "$0")/env.sh"
out="${1:?usage: gpu_bench.sh OUT_DIR}"
mkdir -p "$out"
models="${GPU_BENCH_MODELS:-espnetv2-voc,deeplabv3-mnv2-voc,espnetv2-city}"
cpu_models="${GPU_BENCH_CPU_MODELS:-espnetv2-voc,deeplabv3-mnv2-voc}"
reps="${GPU_BENCH_REPEATS:-10}"
status=0

if [ -z "${ADVSEG_BENCH_BIN:-}" ] || [ -z "${ADVSEG_PARITY_BIN:-}" ]; then
    cargo build --profile ci --bin bench || exit 1
    ADVSEG_BENCH_BIN="$CARGO_TARGET_DIR/ci/bench"
    ADVSEG_PARITY_BIN="$(cargo test --profile ci --test parity --no-run --message-format=json 2>/dev/null |
        python3 -c 'import json,sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable")][-1])')"
fi

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"

echo "== wgpu parity (logits ≤ 1e-3, gradient cosine ≥ 0.999)"
ADVSEG_REQUIRE_WGPU=1 "$ADVSEG_PARITY_BIN" --test-threads 1 --nocapture on_wgpu 2>&1 | tee "$out/parity.log" || status=1

echo "== bench wgpu"
for batch in 1 8; do
    "$ADVSEG_BENCH_BIN" --backend wgpu --models "$models" --batch "$batch" --repeats "$reps" \
        --json "$out/wgpu_b$batch.json" 2>&1 | tee -a "$out/bench.log" || status=1
done

echo "== bench cpu ($(nproc) cores)"
"$ADVSEG_BENCH_BIN" --backend cpu --models "$cpu_models" --batch 1 --repeats 3 \
    --json "$out/cpu_b1.json" 2>&1 | tee -a "$out/bench.log" || status=1

if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "== PyTorch CUDA"
    python3 "$(dirname "$0")/bench_torch_gpu.py" --models "$models" --batches 1,8 --reps "$reps" \
        --json "$out/torch_cuda.json" 2>&1 | tee -a "$out/bench.log" || status=1
else
    echo "== PyTorch CUDA: skipped (python3 has no torch with CUDA)"
fi
if command -v node >/dev/null && [ -x "${CHROMIUM:-/usr/bin/chromium}" ] && [ -f www/pkg/advseg_bg.wasm ]; then
    echo "== browser bench (www/bench.html: CPU workers 1/2/4, WebGPU; batch 1 and 4)"
    CHROMIUM_FLAGS="${CHROMIUM_FLAGS:---enable-features=Vulkan --use-vulkan=native --use-angle=vulkan}" \
        node scripts/web_bench_page.mjs --model "${GPU_BENCH_BROWSER_MODEL:-espnetv2-voc}" --backends cpu,webgpu \
        --workers 1,2,4 --batches 1,4 --steps 5 --json "$out/browser.json" 2>&1 | tee -a "$out/bench.log" || status=1
else
    echo "== browser bench: skipped (needs node, Chromium and scripts/web_build.sh)"
fi
exit $status
