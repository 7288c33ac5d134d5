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

    def torchvision_like(b):
        Image.open(io.BytesIO(b)).convert("RGB").resize((width, height), Image.BILINEAR)

    def draft(b):
        im = Image.open(io.BytesIO(b))
        im.draft("RGB", (width, height))
        im.convert("RGB").resize((width, height), Image.BILINEAR)

    steps = []
    for name, fn in [("PIL full-size decode", full), ("PIL decode + resize (torchvision's path)", torchvision_like),
                     ("PIL draft (DCT-scaled decode) + resize", draft)]:
        for b in datas[:5]:
            fn(b)
        per = []
        for _ in range(passes):
            t = time.perf_counter()
            for b in datas:
                fn(b)
            per.append((time.perf_counter() - t) * 1000 / max(1, len(datas)))
        per.sort()
        steps.append({"step": name, "msPerImage": per[len(per) // 2]})
    print(json.dumps({"steps": steps, "files": len(datas), "libjpeg": features.version("jpg")}), flush=True)


if __name__ == "__main__":
    main()
