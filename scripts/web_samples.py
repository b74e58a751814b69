"""Copy the gallery's sample images into the page and list them in index.json.

Usage: web_samples.py COMMITTED_DIR SHARED_IMAGES_DIR OUT_DIR

The committed samples (freely licensed, samples/LICENSES.md) always; the shared VOC / Cityscapes
fixtures and other shared photos (never committed) when the shared folder exists. The page's
default image comes first: the VOC car + person scene, else the astronaut (a person).
"""
import json
import os
import shutil
import sys


def add(items, src_dir, folder, dst, skip=()):
    if not os.path.isdir(src_dir):
        return
    for name in sorted(os.listdir(src_dir), key=lambda n: (len(n), n)):
        if not name.endswith((".png", ".jpg")) or "_label" in name or "gtFine" in name or name in skip:
            continue
        out = f"{folder}-{name}"
        shutil.copyfile(os.path.join(src_dir, name), os.path.join(dst, out))
        items.append({"file": out, "name": f"{folder}/{name}"})


def main():
    committed, shared, dst = sys.argv[1:4]
    items = []
    add(items, os.path.join(shared, "voc"), "voc", dst)
    add(items, committed, "samples", dst)
    add(items, os.path.join(shared, "photos"), "photos", dst, skip=set(os.listdir(committed)))
    add(items, os.path.join(shared, "cityscapes"), "cityscapes", dst)
    items.sort(key=lambda i: {"voc/294.png": 0, "samples/astronaut.png": 1}.get(i["name"], 2))
    with open(os.path.join(dst, "index.json"), "w") as f:
        json.dump(items, f, indent=1)


if __name__ == "__main__":
    main()
