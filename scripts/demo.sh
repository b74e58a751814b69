#!/usr/bin/env bash
# The demo, up fast: install what it needs (the wasm32 target, the weights; wasm-bindgen's CLI
# while the bundle builds), build the browser bundle with the `ci` profile (optimised, no LTO,
# no wasm-opt), link the weights and sample images into www/, and serve www/ on
# http://127.0.0.1:8080/ (the URL is printed; Ctrl+C stops it). Each step prints what it does
# and the seconds since the start.
#
# Usage: scripts/demo.sh [--release] [--port N]
#   --release  the bundle that build_site.sh publishes: LTO, one codegen unit, then wasm-opt -Oz
#              (a 16 MB instead of a 38 MB wasm; about 40 min cold on two cores instead of 15)
#   --port N   serve on port N (0: any free port)
# The command-line demo is scripts/demo_cli.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=fast port=8080
while [ $# -gt 0 ]; do
  case "$1" in
    --release) mode=release ;;
    --fast) mode=fast ;; # the default; kept for old instructions
    --port) port="$2"; shift ;;
    *) echo "demo.sh: unknown option '$1' (expected --release or --port N)" >&2; exit 2 ;;
  esac
  shift
done
t0=$(date +%s)
# say STEP TEXT: a progress line with the time since the start
say() { echo "demo: [$(( $(date +%s) - t0 )) s] $*"; }

if [ $mode = release ]; then
  say "1/3 setup (scripts/setup.sh --release: wasm32 target, wasm-bindgen, wasm-pack, binaryen, weights)"
  scripts/setup.sh --release
  say "2/3 building the release bundle (wasm-pack, LTO, then wasm-opt -Oz; cold: tens of minutes on two cores)"
  scripts/web_build.sh --release
else
  say "1/3 setup (scripts/setup.sh: the wasm32 target and the weights, each only if missing)"
  scripts/setup.sh --demo --only target,weights
  source scripts/env.sh
  if [ -f "$CARGO_TARGET_DIR/wasm32-unknown-unknown/ci/advseg.wasm" ]; then
    say "2/3 building the wasm bundle (cargo, ci profile; only what changed is rebuilt)"
  else
    say "2/3 building the wasm bundle (cargo, ci profile, into $CARGO_TARGET_DIR; cold: about 1,900 CPU-seconds, a quarter of an hour on two idle cores; warm: seconds), and installing wasm-bindgen's CLI beside it if missing"
  fi
  scripts/web_build.sh
fi
say "3/3 serving www/ — open the URL below in Chrome or Edge (WebGPU) or any browser (CPU backend)"
exec python3 scripts/web_serve.py --port "$port"
