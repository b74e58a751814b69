# Sourced by every script: where builds go and where the tools are.
#   CARGO_TARGET_DIR   builds, outside the clone (default ~/.cache/advseg/target)
#   ADVSEG_SHARED      weights and fixtures beside the checkout (default ../shared)
#   ADVSEG_TOOLS       npm tools (binaryen's wasm-opt) (default ~/.cache/advseg/tools)
#   ADVSEG_BIN         the CLI built with the `ci` profile
#   ADVSEG_SKIP_LOG    where skipped tests are recorded (set by scripts/test.sh; see advseg_skip)
#   ADVSEG_FORBID_SKIPS=1  a test that would skip fails instead (.ci/run sets it)
# shellcheck shell=bash
advseg_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/advseg/target}"
export ADVSEG_SHARED="${ADVSEG_SHARED:-$advseg_root/../shared}"
# absolute (tests/web.rs embeds fixtures through it at build time)
if [ -d "$ADVSEG_SHARED" ]; then ADVSEG_SHARED="$(cd "$ADVSEG_SHARED" && pwd)"; fi
export ADVSEG_TOOLS="${ADVSEG_TOOLS:-$HOME/.cache/advseg/tools}"
export ADVSEG_BIN="$CARGO_TARGET_DIR/ci/advseg"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$ADVSEG_TOOLS/node_modules/.bin:$PATH"
# the daemons of the Slurm test (slurmctld, slurmd, munged) live in sbin, which a user's PATH may lack
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac

# advseg_skip NAME REASON: NAME does not run because of REASON. Says so on stderr and appends
# "NAME: REASON" to $ADVSEG_SKIP_LOG (scripts/test.sh counts the lines in its closing line, as
# it counts the Rust tests' skips: src/util/test_skip.rs). Returns 0, or 1 under
# ADVSEG_FORBID_SKIPS=1, where a skip is a failure: `advseg_skip … || exit 1`.
advseg_skip() {
  if [ "${ADVSEG_FORBID_SKIPS:-0}" = 1 ]; then
    echo "FAILED $1: it would skip ($2), but ADVSEG_FORBID_SKIPS=1: every test must run" >&2
    return 1
  fi
  echo "SKIPPED $1: $2" >&2
  if [ -n "${ADVSEG_SKIP_LOG:-}" ]; then echo "$1: $2" >>"$ADVSEG_SKIP_LOG"; fi
}
