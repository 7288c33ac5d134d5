"""libjpeg-turbo's cost on the same JPEGs, through PIL: full decode, decode + resize as torchvision does it,
and decode at a reduced DCT scale (draft) + resize. One call at a time, files in memory; prints one JSON
line: {"steps": [{"step", "msPerImage"}], "files", "libjpeg"}."""
import io
import json
import os
import sys
import time

from PIL import Image, features


def main():
    config = json.loads(sys.argv[1])
    height, width = config["imageSize"]
    wanted = int(config.get("files", 40))
    passes = int(config.get("passes", 3))
    files = []
    for root, _dirs, names in sorted(os.walk(config["dir"])):
        for name in sorted(names):
            if name.lower().endswith((".jpg", ".jpeg")):
                files.append(os.path.join(root, name))
    files = files[:wanted]
    datas = [open(f, "rb").read() for f in files]

    def full(b):
        im = Image.open(io.BytesIO(b))
        im.load()

    def half(b):
        im = Image.open(io.BytesIO(b))
        im.draft("RGB", ((im.width + 1) // 2, (im.height + 1) // 2))
        im.load()

    def torchvision_like(b):
        Image.open(io.BytesIO(b)).convert("RGB").resize((width, height), Image.BILINEAR)

    def draft(b):
        im = Image.open(io.BytesIO(b))
        im.draft("RGB", (width, height))
        im.convert("RGB").resize((width, height), Image.BILINEAR)

    named = [("PIL full-size decode (libjpeg-turbo)", full), ("PIL decode at 1/2 scale (DCT scaling)", half),
             ("PIL decode + resize (torchvision's path)", torchvision_like),
             ("PIL draft (DCT-scaled decode where possible) + resize", draft)]
    for _name, fn in named:
        for b in datas[:3]:
            fn(b)
    # Passes interleave the steps, so that a slow moment of a busy machine is shared among them.
    per = [[] for _ in named]
    for _ in range(passes):
        for i, (_name, fn) in enumerate(named):
            t = time.perf_counter()
            for b in datas:
                fn(b)
            per[i].append((time.perf_counter() - t) * 1000 / max(1, len(datas)))
    steps = [{"step": name, "msPerImage": sorted(p)[len(p) // 2]} for (name, _fn), p in zip(named, per)]
    print(json.dumps({"steps": steps, "files": len(datas), "libjpeg": features.version("jpg")}), flush=True)


if __name__ == "__main__":
    main()
