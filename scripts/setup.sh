#!/usr/bin/env bash
# Install what the tests and the demo need, from package registries only (idempotent: each
# tool only when missing):
# - Debian: Mesa's Vulkan drivers (lavapipe: wgpu's software Vulkan adapter), Chromium and its
#   WebDriver (the browser tests), Node.js and npm, Slurm and munge (the cluster test);
# - rustup: the wasm32 target; crates.io: wasm-bindgen-cli (the version pinned in Cargo.lock)
#   and wasm-pack; npm: playwright-core (tests/e2e) and binaryen (wasm-opt for the release
#   bundle, in ~/.cache/advseg/tools);
# - the model weights (copied from ../shared/weights, sha256-checked).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

need_apt=()
[ -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] || ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need_apt+=(mesa-vulkan-drivers)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
# a single-node Slurm for the cluster test (scripts/slurm_test.sh)
command -v slurmctld >/dev/null || need_apt+=(slurmctld slurmd slurm-client munge)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}" >/dev/null \
    || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}" >/dev/null; }
fi
rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

source scripts/env.sh
# wasm-bindgen's CLI must be exactly the library's version (Cargo.lock)
wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$wbg" ]; then
  echo "setup: cargo install wasm-bindgen-cli $wbg"
  cargo install -q wasm-bindgen-cli --version "=$wbg" --force
fi
command -v wasm-pack >/dev/null || { echo "setup: cargo install wasm-pack"; cargo install -q wasm-pack --locked; }
[ -d tests/e2e/node_modules/playwright-core ] || { echo "setup: npm ci (tests/e2e)"; npm ci --prefix tests/e2e --no-audit --no-fund >/dev/null; }
tools="$ADVSEG_TOOLS"
[ -x "$tools/node_modules/.bin/wasm-opt" ] || { echo "setup: npm install binaryen@132"; mkdir -p "$tools"; npm install --prefix "$tools" --no-audit --no-fund binaryen@132 >/dev/null; }
weights/fetch.sh >/dev/null
