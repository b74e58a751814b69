#!/usr/bin/env bash
# Run every test: native unit + integration tests on the real weights (CPU and wgpu/Vulkan), the
# wasm32 build, an experiment sharded over a single-node Slurm (scripts/slurm_test.sh), and the
# browser tests (scripts/web_test.sh: tests/web.rs in headless Chromium on the CPU and WebGPU
# backends, the end-to-end tests of the page). Installs what it needs first (scripts/setup.sh).
#
# Every step runs even when an earlier one failed. A test that cannot run says why when it
# skips (Rust tests: src/util/test_skip.rs; scripts: advseg_skip in scripts/env.sh), and every
# skip is listed again at the end. The last line counts them all:
#   test.sh: 412 passed, 0 failed, 2 skipped
# (passed: Rust and wasm tests that ran their checks, plus the Slurm test and each end-to-end
# script; a skipped Rust test is counted as skipped, not passed). Before it: the time of each
# step and the slowest test binaries.
#
# Settings (each one is announced when it changes anything):
#   ADVSEG_SKIP_BROWSER=1   leave out the browser tests (counted as a skip)
#   ADVSEG_REQUIRE_WGPU=0   let the wgpu tests skip where no adapter is found (default 1: fail)
#   ADVSEG_FORBID_SKIPS=1   any skip fails the run (.ci/run sets it)
#   ADVSEG_TEST_STEPS=a,b   run only these steps of wasm32, native, slurm, browser
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
start=$SECONDS
scripts/setup.sh || { echo "test.sh: scripts/setup.sh failed" >&2; exit 1; }
source scripts/env.sh
export ADVSEG_REQUIRE_WGPU="${ADVSEG_REQUIRE_WGPU:-1}"
export ADVSEG_FORBID_SKIPS="${ADVSEG_FORBID_SKIPS:-0}"
export ADVSEG_SKIP_LOG="${ADVSEG_SKIP_LOG:-$(mktemp /tmp/advseg-skips.XXXXXX)}"
: >"$ADVSEG_SKIP_LOG"
steps="${ADVSEG_TEST_STEPS:-wasm32,native,slurm,browser}"
log="$(mktemp /tmp/advseg-test.XXXXXX)" times="$(mktemp /tmp/advseg-times.XXXXXX)"
trap 'rm -f "$log" "$times"' EXIT

[ "$ADVSEG_REQUIRE_WGPU" = 1 ] ||
  echo "test.sh: ADVSEG_REQUIRE_WGPU=$ADVSEG_REQUIRE_WGPU: the wgpu tests skip where no wgpu adapter is found (each skip is counted)"
[ "$ADVSEG_FORBID_SKIPS" != 1 ] || echo "test.sh: ADVSEG_FORBID_SKIPS=1: a test that would skip fails the run instead"
[ -z "${ADVSEG_TEST_STEPS:-}" ] || echo "test.sh: ADVSEG_TEST_STEPS=$steps: only these steps run"
[ -d "$ADVSEG_SHARED/fixtures/images" ] ||
  echo "test.sh: $ADVSEG_SHARED/fixtures is absent: the tests that compare with PyTorch, MediaPipe, Pillow and OpenCV skip (each says so)"

failed=() timings=() script_passed=0 rust_skips=0 native_failed=0
skips() { grep -c . "$ADVSEG_SKIP_LOG"; }
# sum passed|failed: the libtest counts in the log so far (native tests and tests/web.rs)
sum() { awk -v what="$1" '/^test result:/ { for (i = 2; i <= NF; i++) if ($i ~ "^" what) n += $(i - 1) } END { print n + 0 }' "$log"; }
# step NAME COMMAND...: runs one step (if selected), times it, records a failure
step() {
  local name="$1" t0=$SECONDS rc
  shift
  case ",$steps," in *",$name,"*) ;; *) return 0 ;; esac
  echo "== $name: $*"
  "$@"
  rc=$?
  timings+=("$name $(( SECONDS - t0 )) s")
  [ $rc = 0 ] || { failed+=("$name"); echo "== $name: FAILED (exit $rc)"; }
  return $rc
}

# reads cargo test's output; writes "SECONDS NAME" for the build and for each test binary
time_binaries() {
  local name="cargo build (test binaries)" t=$SECONDS line
  while IFS= read -r line; do
    case "$line" in
      *"     Running "* | *"   Doc-tests "*)
        echo "$(( SECONDS - t )) $name"
        name="${line#*Running }" name="${name#*Doc-tests }" name="${name%% (*}" t=$SECONDS ;;
    esac
  done
  echo "$(( SECONDS - t )) $name"
}
native() {
  local before rc
  before=$(skips)
  # --no-fail-fast: every test binary runs, a failure in one does not hide the others
  cargo test --profile ci --all-targets --no-fail-fast -- --test-threads=1 2>&1 | tee -a "$log" | tee >(time_binaries >"$times")
  rc=$?
  rust_skips=$(( $(skips) - before )) native_failed=$(sum failed)
  return $rc
}
slurm() {
  local before rc
  before=$(skips)
  timeout "${ADVSEG_SLURM_TEST_LIMIT:-900}" scripts/slurm_test.sh
  rc=$?
  [ $rc != 0 ] || [ "$(skips)" != "$before" ] || script_passed=$(( script_passed + 1 ))
  return $rc
}
browser() {
  if [ "${ADVSEG_SKIP_BROWSER:-0}" = 1 ]; then
    advseg_skip "browser tests (tests/web.rs, tests/e2e)" "ADVSEG_SKIP_BROWSER=1"
  else
    scripts/web_test.sh 2>&1 | tee -a "$log"
  fi
}

# the library for the browser: the full bundle, and the CPU-only one (no `gpu` feature) that
# scripts/demo.sh serves first on a cold build folder
wasm32() {
  cargo build --profile ci --lib --target wasm32-unknown-unknown \
    && cargo build --profile ci --lib --target wasm32-unknown-unknown --no-default-features
}
step wasm32 wasm32
step native native
step slurm slurm
step browser browser

# the closing lines: timings, skips with their reasons, the counts
script_passed=$(( script_passed + $(grep -c '^script test passed: ' "$log") ))
script_failed=$(grep -c '^script test FAILED: ' "$log")
passed=$(( $(sum passed) - rust_skips + script_passed ))
nfailed=$(( $(sum failed) + script_failed ))
nskip=$(skips)
# a step that failed without a failed test to show for it (a build error, the Slurm test, a
# browser test binary that did not build) counts as one failure
for f in "${failed[@]}"; do
  case "$f" in
    native) [ "$native_failed" -gt 0 ] || nfailed=$(( nfailed + 1 )) ;;
    browser) [ $(( $(sum failed) - native_failed + script_failed )) -gt 0 ] || nfailed=$(( nfailed + 1 )) ;;
    *) nfailed=$(( nfailed + 1 )) ;;
  esac
done
echo
echo "== time per step: $(printf '%s, ' "${timings[@]}" | sed 's/, $//'); $(( SECONDS - start )) s in all"
if [ -s "$times" ]; then
  echo "== slowest parts of the native step (s):"
  sort -rn "$times" | head -8 | sed 's/^/   /'
fi
if [ "$nskip" -gt 0 ]; then
  echo "== $nskip skipped (also in $ADVSEG_SKIP_LOG):"
  sed 's/^/   /' "$ADVSEG_SKIP_LOG"
  [ "$ADVSEG_FORBID_SKIPS" != 1 ] || { failed+=("skips forbidden"); nfailed=$(( nfailed + nskip )); }
fi
[ ${#failed[@]} = 0 ] || echo "== FAILED: ${failed[*]}"
echo "test.sh: $passed passed, $nfailed failed, $nskip skipped"
[ ${#failed[@]} = 0 ]
