# Sourced by every script: where builds go and where the tools are.
#   CARGO_TARGET_DIR   builds, outside the clone (default ~/.cache/advseg/target)
#   ADVSEG_SHARED      weights and fixtures beside the checkout (default ../shared)
#   ADVSEG_TOOLS       npm tools (binaryen's wasm-opt) (default ~/.cache/advseg/tools)
#   ADVSEG_BIN         the CLI built with the `ci` profile
# shellcheck shell=bash
advseg_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/advseg/target}"
export ADVSEG_SHARED="${ADVSEG_SHARED:-$advseg_root/../shared}"
export ADVSEG_TOOLS="${ADVSEG_TOOLS:-$HOME/.cache/advseg/tools}"
export ADVSEG_BIN="$CARGO_TARGET_DIR/ci/advseg"
export PATH="$HOME/.cargo/bin:$ADVSEG_TOOLS/node_modules/.bin:$PATH"
