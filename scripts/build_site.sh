#!/usr/bin/env bash
# Build the demo as a self-contained static site in dist/ (git-ignored): the page's files, the
# wasm bundle, the weights, the sample gallery and the service worker — real files, no links —
# for any static host (GitHub Pages, an S3 bucket, `python3 -m http.server`).
#
# Usage: scripts/build_site.sh [--no-build] [--out DIR]
#   default     scripts/web_build.sh --release first (wasm-pack release profile + wasm-opt -Oz)
#   --no-build  package the bundle www/pkg already holds (e.g. the ci build of the tests)
#   --out DIR   write there instead of dist/ (emptied first)
#
# Headers: nothing is required. Hosts that cannot send COOP/COEP (most static hosts) give a page
# that is not cross-origin isolated; the one thing that changes is cancelling a CPU run: it then
# restarts the worker after a short grace period instead of stopping at the next step (api.js).
# The Content-Security-Policy is in index.html's <meta> tag, so it applies everywhere.
#
# Compression: every text file, the wasm module and the weights get pre-compressed siblings,
# FILE.gz (gzip -9) and FILE.br (brotli -q 11, or $ADVSEG_BROTLI_QUALITY, where a brotli tool is
# installed), for hosts that
# serve them with `Content-Encoding` (scripts/web_serve.py --root dist does; docs/hosting.md says
# how for nginx, Apache, Caddy, and what other hosts do).
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
out=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --out) out="$2"; shift ;;
    *) echo "build_site: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
if [ $build = 1 ]; then
  scripts/web_build.sh --release
elif [ ! -f www/pkg/advseg_bg.wasm ]; then
  scripts/web_build.sh
fi
[ -f www/samples/index.json ] || { echo "build_site: www/samples is missing: run scripts/web_build.sh" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/pkg" "$out/weights" "$out/samples"
# the page: every tracked file of www/ (html, js, css, the service worker)
for f in www/*.html www/*.js www/*.css; do cp "$f" "$out/"; done
cp www/pkg/advseg.js www/pkg/advseg_bg.wasm "$out/pkg/"
[ -f www/pkg/catalog.json ] && cp www/pkg/catalog.json "$out/pkg/"
# weights and samples are links in www/: copy what they point to
n=0
for f in www/weights/*; do
  [ -e "$f" ] || continue
  cp -L "$f" "$out/weights/"; n=$((n + 1))
done
[ $n -gt 0 ] || { echo "build_site: no weights in www/weights (scripts/setup.sh fetches them)" >&2; exit 1; }
cp -L www/samples/* "$out/samples/"
# licences of what is shipped
cp samples/LICENSES.md "$out/samples/LICENSES-samples.md"
[ -f "${ADVSEG_SHARED:-../shared}/fixtures/images/LICENSES.md" ] && cp "${ADVSEG_SHARED:-../shared}/fixtures/images/LICENSES.md" "$out/samples/LICENSES-fixtures.md"
[ -f "${ADVSEG_SHARED:-../shared}/weights/LICENSES" ] && cp "${ADVSEG_SHARED:-../shared}/weights/LICENSES" "$out/weights/LICENSES.txt"
# GitHub Pages runs Jekyll on a site unless it finds .nojekyll: serve the files as they are
touch "$out/.nojekyll"

links=$(find "$out" -type l | wc -l)
[ "$links" = 0 ] || { echo "build_site: $links links left in $out" >&2; exit 1; }

# pre-compressed siblings (the originals stay for hosts and clients without compression)
brotli_cmd=""
if command -v brotli >/dev/null; then brotli_cmd=brotli
elif python3 -c 'import brotli' 2>/dev/null; then brotli_cmd=python
else echo "build_site: no brotli tool (Debian: apt-get install brotli): gzip only" >&2; fi
find "$out" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.html' -o -name '*.json' \
  -o -name '*.safetensors' -o -name '*.tflite' -o -name '*.md' -o -name '*.txt' \) -size +1k | while read -r f; do
  gzip -9 -k -n -f "$f"
  touch -r "$f" "$f.gz"
  case "$brotli_cmd" in
    brotli) brotli -q "${ADVSEG_BROTLI_QUALITY:-11}" -k -f "$f" && touch -r "$f" "$f.br" ;;
    python) python3 -c 'import brotli,sys; open(sys.argv[1]+".br","wb").write(brotli.compress(open(sys.argv[1],"rb").read(), quality=int(sys.argv[2])))' "$f" "${ADVSEG_BROTLI_QUALITY:-11}" \
      && touch -r "$f" "$f.br" ;;
  esac
done
wasm="$out/pkg/advseg_bg.wasm"
echo "build_site: $wasm: $(stat -c %s "$wasm") bytes, gzip $(stat -c %s "$wasm.gz")$([ -f "$wasm.br" ] && echo ", brotli $(stat -c %s "$wasm.br")")"
echo "build_site: $out: $(find "$out" -type f | wc -l) files, $(du -sh "$out" | cut -f1) ($(stat -c %s "$out/pkg/advseg_bg.wasm") bytes of wasm)"
