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
echo "build_site: $out: $(find "$out" -type f | wc -l) files, $(du -sh "$out" | cut -f1) ($(stat -c %s "$out/pkg/advseg_bg.wasm") bytes of wasm)"
