#!/usr/bin/env bash
# Fill weights/ with the files named in weights/manifest.json, copied from ../shared/weights
# (or $ADVSEG_SHARED_WEIGHTS) and checked against their sha256. Weights are never committed.
# Where no local copy exists, print where the originals live upstream.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="${ADVSEG_SHARED_WEIGHTS:-$here/../../shared/weights}"
manifest="$here/manifest.json"
status=0
while IFS=$'\t' read -r name file sha url; do
  dest="$here/$file"
  if [ -f "$dest" ] && [ "$(sha256sum "$dest" | cut -d' ' -f1)" = "$sha" ]; then
    continue
  fi
  if [ -f "$src/$file" ]; then
    got="$(sha256sum "$src/$file" | cut -d' ' -f1)"
    if [ "$got" != "$sha" ]; then
      echo "fetch.sh: $src/$file has sha256 $got, expected $sha — not copied" >&2
      status=1; continue
    fi
    cp "$src/$file" "$dest.tmp" && mv "$dest.tmp" "$dest"
    echo "fetch.sh: $name <- $src/$file (sha256 ok)"
  else
    echo "fetch.sh: $file for model '$name' not found in $src." >&2
    echo "          The original lives at $url (see weights/manifest.json and ../shared/weights/MODELS.md" >&2
    echo "          for the conversion to safetensors); expected sha256 of the converted file: $sha" >&2
    status=1
  fi
done < <(python3 -c '
import json,sys
for e in json.load(open(sys.argv[1]))["files"]:
    print("\t".join([e["name"], e["file"], e["sha256"], e["source"]]))' "$manifest")
exit $status
