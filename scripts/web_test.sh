#!/usr/bin/env bash
# The browser tests (run by scripts/test.sh; each bounded in time):
# 1. tests/web.rs in headless Chromium through wasm-pack (CPU and WebGPU backends), built with
#    the `ci` profile so it reuses the wasm32 build's dependencies;
# 2. the end-to-end test of the page (tests/e2e/page.test.mjs, playwright-core): every mode on the
#    CPU backend, then the page on WebGPU (DeepLab, 1 step; E2E_WEBGPU=0 skips it), on the ci-profile
#    bundle from scripts/web_build.sh. Screenshots and downloads land in tests/e2e/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-900}"
limit="${ADVSEG_WEB_TEST_LIMIT:-1500}"

echo "== browser: wasm-pack test (tests/web.rs, CPU + WebGPU)"
if [ -d "$ADVSEG_SHARED/fixtures/images" ]; then
  timeout "$limit" wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver -- --profile ci --no-default-features --test web
else
  # tests/web.rs embeds a shared fixture image and its reference map
  echo "tests/web.rs: skipped — the shared fixtures ($ADVSEG_SHARED/fixtures) are absent"
fi

echo "== browser: end-to-end test of the page (tests/e2e)"
scripts/web_build.sh
if [ -d "$ADVSEG_SHARED/fixtures/images" ]; then
  E2E_BACKEND="${E2E_BACKEND:-cpu}" timeout "$limit" node tests/e2e/page.test.mjs
  E2E_BACKEND="${E2E_BACKEND:-cpu}" timeout "$limit" node tests/e2e/camera.test.mjs
  timeout "$limit" node tests/e2e/teach.test.mjs
  timeout "$limit" node tests/e2e/pool.test.mjs
else
  # the end-to-end test uploads shared fixture images
  echo "tests/e2e: skipped — the shared fixtures ($ADVSEG_SHARED/fixtures) are absent"
fi
