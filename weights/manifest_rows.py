"""Print `name<TAB>file<TAB>sha256` for every file of weights/manifest.json (for fetch.sh)."""
import json
import sys

for e in json.load(open(sys.argv[1]))["files"]:
    print("\t".join([e["name"], e["file"], e["sha256"]]))
