#!/usr/bin/env bash
# Fill weights/ with the files named in weights/manifest.json.
#
# Fast path (no build): copy them from ../shared/weights (or $ADVSEG_SHARED/weights, $ADVSEG_SHARED_WEIGHTS), checked
# against their sha256. For any file not there — a fresh clone without ../shared — build the
# CLI and run `advseg weights fetch`: it takes each published original from --from DIR (or
# $ADVSEG_ORIGINALS_DIR), the download cache (~/.cache/advseg/originals) or its pinned URL
# (curl or wget; mirror: $ADVSEG_ORIGINALS_URL), checks its sha256, converts it (Rust, no
# Python) and checks the content hash of the result. Arguments are passed to that command,
# e.g. `weights/fetch.sh --from ~/Downloads/advseg-originals`.
#
# Files whose manifest entry names a `wheel` (MediaPipe's selfie models, used as published) are
# not converted: without a shared copy they are extracted from that Python wheel, downloaded
# from the package registry with `pip download --no-deps` into ~/.cache/advseg/wheels (or
# $ADVSEG_WHEELS_DIR), and sha256-checked like the shared copies.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="${ADVSEG_SHARED_WEIGHTS:-${ADVSEG_SHARED:-$here/../../shared}/weights}"
manifest="$here/manifest.json"
wheel_failed=0
wheels="${ADVSEG_WHEELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/advseg/wheels}"
missing=0

# from_wheel PACKAGE PATH DEST SHA: extract PATH from the pip wheel of PACKAGE into DEST if its
# sha256 is SHA (the wheel is downloaded once and kept in $wheels).
from_wheel() {
  local package="$1" path="$2" dest="$3" sha="$4" wheel got
  wheel="$(ls "$wheels"/"${package%%==*}"-"${package#*==}"-*.whl 2>/dev/null | head -n1 || true)"
  if [ -z "$wheel" ]; then
    mkdir -p "$wheels"
    echo "fetch.sh: pip download --no-deps $package (into $wheels)" >&2
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$wheels" "$package" >&2 || return 1
    wheel="$(ls "$wheels"/"${package%%==*}"-"${package#*==}"-*.whl 2>/dev/null | head -n1 || true)"
    [ -n "$wheel" ] || { echo "fetch.sh: pip gave no wheel of $package in $wheels" >&2; return 1; }
  fi
  python3 - "$wheel" "$path" "$dest.tmp" <<'PY' || { rm -f "$dest.tmp"; return 1; }
import sys, zipfile
wheel, path, out = sys.argv[1:4]
try:
    data = zipfile.ZipFile(wheel).read(path)
except (KeyError, zipfile.BadZipFile) as e:
    sys.exit(f"fetch.sh: cannot read {path} from {wheel}: {e}")
open(out, "wb").write(data)
PY
  got="$(sha256sum "$dest.tmp" | cut -d' ' -f1)"
  if [ "$got" != "$sha" ]; then
    echo "fetch.sh: $path in $wheel has sha256 $got, expected $sha — not used" >&2
    rm -f "$dest.tmp"
    return 1
  fi
  mv "$dest.tmp" "$dest"
  echo "fetch.sh: $(basename "$dest") <- $wheel:$path (sha256 ok)"
}

if [ $# -gt 0 ] || ! command -v python3 >/dev/null; then
  missing=1
else
  while IFS=$'\t' read -r name file sha package path; do
    dest="$here/$file"
    if [ -f "$dest" ] && [ "$(sha256sum "$dest" | cut -d' ' -f1)" = "$sha" ]; then
      continue
    fi
    if [ -f "$src/$file" ]; then
      got="$(sha256sum "$src/$file" | cut -d' ' -f1)"
      if [ "$got" = "$sha" ]; then
        cp "$src/$file" "$dest.tmp" && mv "$dest.tmp" "$dest"
        echo "fetch.sh: $name <- $src/$file (sha256 ok)"
        continue
      fi
      echo "fetch.sh: $src/$file has sha256 $got, expected $sha — not copied" >&2
    fi
    if [ -n "$package" ]; then
      from_wheel "$package" "$path" "$dest" "$sha" && continue
      echo "fetch.sh: could not obtain $file from the $package wheel" >&2
      wheel_failed=1
      continue
    fi
    missing=1
  done < <(python3 "$here/manifest_rows.py" "$manifest")
fi
if [ $missing = 0 ]; then
  exit "${wheel_failed:-0}"
fi

echo "fetch.sh: not all weights are in $src; converting the published originals with 'advseg weights fetch'" >&2
cd "$here/.."
source scripts/env.sh
cargo build --profile ci --bin advseg -q
exec "$ADVSEG_BIN" weights fetch --shared "$src" "$@"
