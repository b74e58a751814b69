#!/usr/bin/env bash
# Build the browser demo into www/ (git-ignored outputs only): www/pkg/ (the wasm bundle and
# catalog.json, its menus and file sizes: scripts/web_catalog.mjs),
# www/weights/ (links to weights/), www/samples/ (samples/ + shared fixtures, index.json).
#
# Usage: scripts/web_build.sh [--release | --cpu-only] [--out DIR]
#   default     the `ci` profile (no LTO) through cargo + the wasm-bindgen CLI: what the tests and
#               scripts/demo.sh use (the CLI is installed while cargo builds, where it is missing)
#   --cpu-only  the same without the `gpu` feature (no WebGPU in the page): about half the cold
#               compile; scripts/demo.sh serves it first on a cold build
#   --release   the shipped bundle: wasm-pack build (release profile: LTO, 1 codegen unit), then
#               binaryen's wasm-opt -Oz (npm binaryen; Debian's wasm-opt breaks the module)
#   --out DIR   the bundle's folder (default www/pkg; a sibling of www/weights)
# A full `ci` build leaves $CARGO_TARGET_DIR/advseg-web-gpu.built: scripts/demo.sh then knows
# that the full bundle builds warm.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
release=0 features=()
out=www/pkg
while [ $# -gt 0 ]; do
  case "$1" in
    --release) release=1 ;;
    --cpu-only) features=(--no-default-features) ;;
    --out) out="$2"; shift ;;
    *) echo "web_build: unknown option '$1' (expected --release, --cpu-only or --out DIR)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
if [ $release = 1 ]; then
  wasm-pack build --target web --release --no-pack --out-dir "$out" --out-name advseg
  before=$(stat -c %s "$out/advseg_bg.wasm")
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    --enable-simd --enable-reference-types --enable-multivalue \
    "$out/advseg_bg.wasm" -o "$out/advseg_bg.opt.wasm"
  mv "$out/advseg_bg.opt.wasm" "$out/advseg_bg.wasm"
  echo "web_build: wasm-opt -Oz: $before -> $(stat -c %s "$out/advseg_bg.wasm") bytes"
else
  # wasm-bindgen's CLI (Cargo.lock's version) is installed, where missing, while cargo builds
  setup_log="$(mktemp)"
  scripts/setup.sh --only bindgen >"$setup_log" 2>&1 &
  setup_pid=$!
  built=0
  cargo build --profile ci --lib --target wasm32-unknown-unknown ${features[@]+"${features[@]}"} || built=$?
  wait $setup_pid || { cat "$setup_log" >&2; echo "web_build: installing wasm-bindgen's CLI failed" >&2; exit 1; }
  cat "$setup_log"; rm -f "$setup_log"
  [ $built = 0 ] || exit $built
  wasm-bindgen --target web --out-dir "$out" --out-name advseg \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/ci/advseg.wasm"
  if [ ${#features[@]} = 0 ]; then touch "$CARGO_TARGET_DIR/advseg-web-gpu.built"; fi
fi

# weights: links to the checked files of weights/ (fetched by scripts/setup.sh)
mkdir -p www/weights
for f in weights/*.safetensors weights/*.tflite; do
  [ -e "$f" ] && ln -sfn "../../$f" "www/weights/$(basename "$f")"
done

# samples: the committed ones always, the shared fixtures when ../shared exists
# (scripts/web_samples.py), listed in www/samples/index.json
shared="$ADVSEG_SHARED/fixtures/images"
mkdir -p www/samples
[ -d "$shared" ] || echo "web_build: no shared fixtures at $shared (set ADVSEG_SHARED); the gallery has the committed samples only" >&2
python3 scripts/web_samples.py samples "$shared" www/samples

# the wasm API's menus and the big files' sizes, for the page to read before the module arrives
node scripts/web_catalog.mjs "$out"

raw=$(stat -c %s "$out/advseg_bg.wasm")
gz=$(gzip -9 -c "$out/advseg_bg.wasm" | wc -c)
echo "web_build: $out/advseg_bg.wasm $raw bytes raw, $gz bytes gzipped (-9)"
