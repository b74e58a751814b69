#!/usr/bin/env bash
# The browser tests (run by scripts/test.sh; each bounded in time, each run even when an earlier
# one failed):
# 1. tests/web.rs in headless Chromium through wasm-pack (CPU and WebGPU backends), built with
#    the `ci` profile so it reuses the wasm32 build's dependencies;
# 2. the end-to-end tests of the page (tests/e2e/*.test.mjs, playwright-core) on the ci-profile
#    bundle from scripts/web_build.sh: page.test.mjs (every mode on the CPU backend, then the
#    page on WebGPU; E2E_WEBGPU=0 leaves that part out), then every other tests/e2e/*.test.mjs
#    (camera, teach with dist/ on a plain static server, pool, …). Screenshots and downloads land
#    in tests/e2e/artifacts/.
# What cannot run (no Chromium, no shared fixtures, no playwright-core) is skipped with its
# reason (advseg_skip: counted by test.sh, a failure under ADVSEG_FORBID_SKIPS=1).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
source scripts/env.sh
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-900}"
limit="${ADVSEG_WEB_TEST_LIMIT:-1500}"
failed=()

missing=()
for f in /usr/bin/chromium /usr/bin/chromedriver; do [ -x "$f" ] || missing+=("$f"); done
command -v node >/dev/null || missing+=(node)
if [ ${#missing[@]} -gt 0 ]; then
  advseg_skip "browser tests (tests/web.rs, tests/e2e)" "${missing[*]} missing (scripts/setup.sh installs chromium chromium-driver nodejs, as root or with sudo)"
  exit $?
fi
if [ ! -d "$ADVSEG_SHARED/fixtures/images" ]; then
  # tests/web.rs embeds a shared fixture image and its reference map; the e2e tests upload them
  advseg_skip "browser tests (tests/web.rs, tests/e2e)" "they use the shared fixtures, and $ADVSEG_SHARED/fixtures is absent"
  exit $?
fi

echo "== browser: wasm-pack test (tests/web.rs, CPU + WebGPU)"
timeout "$limit" wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver -- --profile ci --no-default-features --features gpu --test web \
  || failed+=(tests/web.rs)

echo "== browser: end-to-end tests of the page (tests/e2e)"
scripts/web_build.sh || { echo "web_test: scripts/web_build.sh failed" >&2; exit 1; }
if [ ! -d tests/e2e/node_modules/playwright-core ]; then
  advseg_skip "tests/e2e" "tests/e2e/node_modules/playwright-core is missing (scripts/setup.sh runs npm ci there)" || failed+=(tests/e2e)
else
  if [ "${E2E_WEBGPU:-1}" = 0 ]; then
    advseg_skip "tests/e2e/page.test.mjs, its WebGPU part" "E2E_WEBGPU=0" || failed+=(page.test.mjs)
  fi
  # every tests/e2e/*.test.mjs, the page's own first
  for t in page $(cd tests/e2e && ls -- *.test.mjs | sed 's/\.test\.mjs$//' | grep -vx page); do
    echo "== browser: tests/e2e/$t.test.mjs"
    t0=$SECONDS
    # the "script test" lines are counted in test.sh's closing line
    if E2E_BACKEND="${E2E_BACKEND:-cpu}" timeout "$limit" node "tests/e2e/$t.test.mjs"; then
      echo "script test passed: tests/e2e/$t.test.mjs ($(( SECONDS - t0 )) s)"
    else
      failed+=("$t.test.mjs")
      echo "script test FAILED: tests/e2e/$t.test.mjs ($(( SECONDS - t0 )) s)"
    fi
  done
fi
[ ${#failed[@]} = 0 ] || { echo "web_test: FAILED: ${failed[*]}" >&2; exit 1; }
