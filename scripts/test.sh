#!/usr/bin/env bash
# Run every test: native unit + integration tests on the real weights (CPU and wgpu/Vulkan),
# the wasm32 build, an experiment sharded over a single-node Slurm (scripts/slurm_test.sh), and
# the browser tests (tests/web.rs in headless Chromium on the CPU and WebGPU backends, the
# end-to-end test of the page). Installs what it needs first
# (scripts/setup.sh). ADVSEG_SKIP_BROWSER=1 skips the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
export ADVSEG_REQUIRE_WGPU="${ADVSEG_REQUIRE_WGPU:-1}"
echo "== wasm32 build check"
cargo build --profile ci --lib --target wasm32-unknown-unknown
echo "== native tests (profile ci)"
if [ -d "$ADVSEG_SHARED/fixtures/images" ]; then
  cargo test --profile ci --all-targets -- --test-threads=1
else
  # a clone without ../shared: the tests that need its fixtures skip and say so (uncaptured)
  echo "== $ADVSEG_SHARED/fixtures is absent: tests that need the shared fixtures are skipped"
  cargo test --profile ci --all-targets -- --test-threads=1 --nocapture
fi
if [ -d "$ADVSEG_SHARED/fixtures/images" ]; then
  echo "== cluster: experiment shards as a Slurm job array (single-node Slurm on localhost)"
  timeout "${ADVSEG_SLURM_TEST_LIMIT:-900}" scripts/slurm_test.sh
else
  echo "== cluster test skipped: it runs an experiment on the shared fixtures ($ADVSEG_SHARED/fixtures)"
fi
if [ "${ADVSEG_SKIP_BROWSER:-0}" != 1 ]; then
  scripts/web_test.sh
fi
