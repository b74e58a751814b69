#!/usr/bin/env bash
# The demo: build the browser bundle (wasm-pack, LTO, wasm-opt), link the weights and sample
# images into www/, and serve www/ on http://127.0.0.1:8080/ (printed below; Ctrl+C stops it).
# --fast builds the `ci` profile instead (no LTO: minutes instead of tens of minutes, a larger
# wasm). The command-line demo is scripts/demo_cli.sh.
#
# Usage: scripts/demo.sh [--fast] [--port N]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mode=--release port=8080
while [ $# -gt 0 ]; do
  case "$1" in
    --fast) mode="" ;;
    --port) port="$2"; shift ;;
    *) echo "demo.sh: unknown option '$1' (expected --fast or --port N)" >&2; exit 2 ;;
  esac
  shift
done
scripts/web_build.sh $mode
echo "demo: open the URL below in Chrome/Edge (WebGPU) or any browser (CPU fallback)"
exec python3 scripts/web_serve.py --port "$port"
