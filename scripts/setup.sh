#!/usr/bin/env bash
# Install what the demo or the tests need, from package registries only. Idempotent: each tool
# is installed only when missing, and every install says what it is and why.
#
# Usage: scripts/setup.sh [--demo | --release] [--only PARTS]
#   (default)  what scripts/test.sh needs: everything below
#   --demo     what scripts/demo.sh needs: the wasm32 Rust target, wasm-bindgen's CLI, the weights
#   --release  the demo's, plus wasm-pack and binaryen (the optimised bundle of build_site.sh; the
#              tests use neither wasm-opt nor that bundle)
#   --only     of those, only PARTS (comma-separated: apt, target, bindgen, wasm-pack, npm, weights);
#              demo.sh installs wasm-bindgen's CLI while the wasm bundle builds
#
# - Debian (tests only): Mesa's Vulkan drivers (lavapipe: wgpu's software Vulkan adapter),
#   Chromium and its WebDriver (the browser tests), Node.js and npm, Slurm and munge (the cluster
#   test), curl (downloads from a mirror in tests/convert.rs). Installed as root, or through
#   `sudo -n` where the user may; otherwise the missing packages are named, and the tests that
#   need them skip, each saying why (scripts/test.sh counts the skips; .ci/run fails on any).
# - rustup: the wasm32 target; crates.io: wasm-bindgen-cli (the version pinned in Cargo.lock,
#   without its TLS features, which only its test runner's downloads use) and wasm-pack;
#   npm: playwright-core (tests/e2e) and, with --release, binaryen (wasm-opt, in $ADVSEG_TOOLS);
# - the model weights (weights/fetch.sh: copied from ../shared/weights, sha256-checked, or
#   converted from the published originals).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=tests only=apt,target,bindgen,wasm-pack,npm,weights
while [ $# -gt 0 ]; do
  case "$1" in
    --demo) mode=demo ;;
    --release) mode=release ;;
    --only) only="$2"; shift ;;
    *) echo "setup.sh: unknown option '$1' (expected --demo, --release or --only PARTS)" >&2; exit 2 ;;
  esac
  shift
done
want() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
source scripts/env.sh
# cargo install builds outside the project's build folders, so that it can run beside a build
tools_target="$CARGO_TARGET_DIR/tools"

# root, or sudo without a password prompt; else nothing (returns 1)
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
  else return 1
  fi
}

if [ $mode = tests ] && want apt; then
  need_apt=()
  ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need_apt+=(mesa-vulkan-drivers)
  [ -x /usr/bin/chromium ] || need_apt+=(chromium)
  [ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
  command -v node >/dev/null || need_apt+=(nodejs)
  command -v npm >/dev/null || need_apt+=(npm)
  command -v curl >/dev/null || need_apt+=(curl)
  # a single-node Slurm for the cluster test (scripts/slurm_test.sh)
  for c in slurmctld slurmd sbatch munged; do
    command -v "$c" >/dev/null || { need_apt+=(slurmctld slurmd slurm-client munge); break; }
  done
  if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: apt-get install ${need_apt[*]}"
    apt_install() { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
    if ! as_root true 2>/dev/null; then
      echo "setup: cannot install ${need_apt[*]}: not root and no password-less sudo; the tests that need them will skip and say so" >&2
    elif ! apt_install "${need_apt[@]}" && ! { as_root apt-get update -q >/dev/null && apt_install "${need_apt[@]}"; }; then
      echo "setup: apt-get install ${need_apt[*]} failed; the tests that need them will skip and say so" >&2
    fi
  fi
fi

if want target && ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
  echo "setup: rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
# wasm-bindgen's CLI must be exactly the library's version (Cargo.lock)
wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if want bindgen && [ "$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$wbg" ]; then
  echo "setup: cargo install wasm-bindgen-cli $wbg (crates.io; about 300 CPU-seconds: 2.5 min on two idle cores)"
  CARGO_TARGET_DIR="$tools_target" cargo install -q wasm-bindgen-cli --version "=$wbg" --no-default-features --force
fi
if [ $mode != demo ] && want wasm-pack && ! command -v wasm-pack >/dev/null; then
  echo "setup: cargo install wasm-pack (crates.io)"
  CARGO_TARGET_DIR="$tools_target" cargo install -q wasm-pack --locked
fi
if [ $mode = tests ] && want npm && [ ! -d tests/e2e/node_modules/playwright-core ]; then
  if command -v npm >/dev/null; then
    echo "setup: npm ci (tests/e2e: playwright-core)"
    npm ci --prefix tests/e2e --no-audit --no-fund >/dev/null ||
      echo "setup: npm ci in tests/e2e failed; the end-to-end tests will skip and say so" >&2
  else
    echo "setup: no npm: tests/e2e cannot get playwright-core; the end-to-end tests will skip and say so" >&2
  fi
fi
if [ $mode = release ] && want npm && [ ! -x "$ADVSEG_TOOLS/node_modules/.bin/wasm-opt" ]; then
  command -v npm >/dev/null || { echo "setup: the release bundle needs npm (binaryen's wasm-opt): install Node.js and npm" >&2; exit 1; }
  echo "setup: npm install binaryen@132 (wasm-opt, into $ADVSEG_TOOLS)"
  mkdir -p "$ADVSEG_TOOLS"
  npm install --prefix "$ADVSEG_TOOLS" --no-audit --no-fund binaryen@132 >/dev/null
fi
if want weights; then weights/fetch.sh >/dev/null; fi
