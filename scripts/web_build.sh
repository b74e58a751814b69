#!/usr/bin/env bash
# Build the browser demo into www/ (git-ignored outputs only): www/pkg/ (the wasm bundle),
# www/weights/ (links to weights/), www/samples/ (samples/ + shared fixtures, index.json).
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

# samples: the committed ones (samples/, freely licensed: samples/LICENSES.md) always, the shared
# VOC / Cityscapes fixtures and other shared photos (never committed) when ../shared exists;
# listed in www/samples/index.json
shared="${ADVSEG_SHARED:-../shared}/fixtures/images"
mkdir -p www/samples
[ -d "$shared" ] || echo "web_build: no shared fixtures at $shared (set ADVSEG_SHARED); the gallery has the committed samples only" >&2
python3 - samples "$shared" www/samples <<'PY'
import json, os, shutil, sys
committed, shared, dst = sys.argv[1:4]
items = []
def add(src_dir, folder, skip=()):
    if not os.path.isdir(src_dir):
        return
    for name in sorted(os.listdir(src_dir), key=lambda n: (len(n), n)):
        if not name.endswith((".png", ".jpg")) or "_label" in name or "gtFine" in name or name in skip:
            continue
        out = f"{folder}-{name}"
        shutil.copyfile(os.path.join(src_dir, name), os.path.join(dst, out))
        items.append({"file": out, "name": f"{folder}/{name}"})
add(os.path.join(shared, "voc"), "voc")
add(committed, "samples")
add(os.path.join(shared, "photos"), "photos", skip=set(os.listdir(committed)))
add(os.path.join(shared, "cityscapes"), "cityscapes")
# the default image of the page first: the VOC car + person scene, else the astronaut (a person)
items.sort(key=lambda i: {"voc/294.png": 0, "samples/astronaut.png": 1}.get(i["name"], 2))
json.dump(items, open(os.path.join(dst, "index.json"), "w"), indent=1)
PY

raw=$(stat -c %s "$out/advseg_bg.wasm")
gz=$(gzip -9 -c "$out/advseg_bg.wasm" | wc -c)
echo "web_build: $out/advseg_bg.wasm $raw bytes raw, $gz bytes gzipped (-9)"
