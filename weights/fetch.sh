#!/usr/bin/env bash
# Fill weights/ with the files named in weights/manifest.json.
#
# Fast path (no build): copy them from ../shared/weights (or $ADVSEG_SHARED_WEIGHTS), checked
# against their sha256. For any file not there — a fresh clone without ../shared — build the
# CLI and run `advseg weights fetch`: it takes each published original from --from DIR (or
# $ADVSEG_ORIGINALS_DIR), the download cache (~/.cache/advseg/originals) or its pinned URL
# (curl or wget; mirror: $ADVSEG_ORIGINALS_URL), checks its sha256, converts it (Rust, no
# Python) and checks the content hash of the result. Arguments are passed to that command,
# e.g. `weights/fetch.sh --from ~/Downloads/advseg-originals`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="${ADVSEG_SHARED_WEIGHTS:-$here/../../shared/weights}"
manifest="$here/manifest.json"
missing=0
if [ $# -gt 0 ] || ! command -v python3 >/dev/null; then
  missing=1
else
  while IFS=$'\t' read -r name file sha; do
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
    missing=1
  done < <(python3 "$here/manifest_rows.py" "$manifest")
fi
[ $missing = 0 ] && exit 0

echo "fetch.sh: not all weights are in $src; converting the published originals with 'advseg weights fetch'" >&2
cd "$here/.."
source scripts/env.sh
cargo build --profile ci --bin advseg -q
exec "$ADVSEG_BIN" weights fetch --shared "$src" "$@"
