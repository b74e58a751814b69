#!/usr/bin/env bash
# Build the browser demo into www/ (git-ignored outputs only): www/pkg/ (the wasm bundle),
# www/weights/ (links to weights/), www/samples/ (sample images + index.json).
#
# Usage: scripts/web_build.sh [--release]
#   default    the `ci` profile (no LTO) through cargo + the wasm-bindgen CLI: what the tests use
#   --release  the shipped bundle: wasm-pack build (release profile: LTO, 1 codegen unit), then
#              binaryen's wasm-opt -Oz (npm binaryen; Debian's wasm-opt breaks the module)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/advseg/target}"
export PATH="$HOME/.cargo/bin:$HOME/.cache/advseg/tools/node_modules/.bin:$PATH"
release=0
[ "${1:-}" = "--release" ] && release=1
out=www/pkg
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
  cargo build --profile ci --lib --target wasm32-unknown-unknown
  wasm-bindgen --target web --out-dir "$out" --out-name advseg \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/ci/advseg.wasm"
fi

# weights: links to the checked files of weights/ (fetched by scripts/setup.sh)
mkdir -p www/weights
for f in weights/*.safetensors; do
  [ -e "$f" ] && ln -sfn "../../$f" "www/weights/$(basename "$f")"
done

# samples: the shared fixture images (never committed), listed in samples/index.json
shared="${ADVSEG_SHARED:-../shared}/fixtures/images"
mkdir -p www/samples
if [ -d "$shared" ]; then
  python3 - "$shared" www/samples <<'PY'
import json, os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
items = []
for folder in ("voc", "photos", "cityscapes"):
    d = os.path.join(src, folder)
    if not os.path.isdir(d):
        continue
    for name in sorted(os.listdir(d), key=lambda n: (len(n), n)):
        if not name.endswith(".png") or "_label" in name or "gtFine" in name:
            continue
        out = f"{folder}-{name}"
        shutil.copyfile(os.path.join(d, name), os.path.join(dst, out))
        items.append({"file": out, "name": f"{folder}/{name}"})
# the VOC car + person scene first: the default image of the page
items.sort(key=lambda i: i["name"] != "voc/294.png")
json.dump(items, open(os.path.join(dst, "index.json"), "w"), indent=1)
PY
else
  echo "web_build: no sample images at $shared (set ADVSEG_SHARED); the gallery stays empty" >&2
  echo '[]' > www/samples/index.json
fi

raw=$(stat -c %s "$out/advseg_bg.wasm")
gz=$(gzip -9 -c "$out/advseg_bg.wasm" | wc -c)
echo "web_build: $out/advseg_bg.wasm $raw bytes raw, $gz bytes gzipped (-9)"
