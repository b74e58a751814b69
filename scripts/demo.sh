#!/usr/bin/env bash
# The demo, up fast: install what it needs (the wasm32 target, the weights; wasm-bindgen's CLI
# while the bundle builds), build the browser bundle with the `ci` profile (optimised, no LTO,
# no wasm-opt), link the weights and sample images into www/, and serve www/ on
# http://127.0.0.1:8080/ (the URL is printed; Ctrl+C stops it). Each step prints what it does
# and the seconds since the start. On a cold build folder the page is served from a CPU-only
# bundle (`web_build.sh --cpu-only`, half the compile) while the full one (WebGPU) builds in the
# background and then replaces it (ADVSEG_DEMO_ONE_BUILD=1: the full one only, served when built).
#
# Usage: scripts/demo.sh [--release] [--port N]
#   --release  the bundle that build_site.sh publishes: LTO, one codegen unit, then wasm-opt -Oz
#              (a 16 MB instead of a 38 MB wasm; about 40 min cold on two cores)
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
  if [ -f "$CARGO_TARGET_DIR/advseg-web-gpu.built" ] || [ "${ADVSEG_DEMO_ONE_BUILD:-0}" = 1 ]; then
    say "2/3 building the wasm bundle (cargo, ci profile; only what changed is rebuilt)"
    scripts/web_build.sh
  else
    # cold: a CPU-only bundle first (no cubecl kernel generators, no wgpu: about half the
    # compile), served at once; the full bundle (WebGPU) builds behind it and replaces it
    say "2/3 building a CPU-only bundle first (cargo, ci profile, into $CARGO_TARGET_DIR; cold: about 700 CPU-seconds, 6 min on two idle cores), and installing wasm-bindgen's CLI beside it if missing"
    scripts/web_build.sh --cpu-only
    log="$CARGO_TARGET_DIR/demo-gpu-build.log"
    say "the page runs on the CPU now; the full bundle (WebGPU) builds in the background (cold: about 12 min on two cores; log: $log) and replaces it — reload the page when a line below says so"
    # in a process group of its own (job control on), stopped with the server (Ctrl+C); an
    # interrupted build resumes where it stopped on the next run
    set -m
    (
      if scripts/web_build.sh --out www/pkg.next >"$log" 2>&1; then
        rm -rf www/pkg.old && mv www/pkg www/pkg.old && mv www/pkg.next www/pkg && rm -rf www/pkg.old
        say "the full bundle (WebGPU) is in place: reload the page"
      else
        say "the full bundle (WebGPU) did not build (see $log); the CPU-only page keeps running"
      fi
    ) &
    background=$!
    set +m
    trap 'kill -- -"$background" 2>/dev/null || true' EXIT
  fi
fi
say "3/3 serving www/ — open the URL below in Chrome or Edge (WebGPU) or any browser (CPU backend)"
python3 scripts/web_serve.py --port "$port"
