"""BMP files and their reference pixels for imgstream's BMP tests, written and read back by PIL (python3-pil).

Reads {"dir", "width", "height"} as JSON on stdin and writes into `dir`:
  - what PIL writes: RGB (24-bit), RGBA (32-bit BI_RGB, read back as RGB: the fourth byte is unused), P
    (8-bit palette), L (8-bit grey palette), 1 (1-bit);
  - two layouts PIL reads but does not write, made from its 24-bit file: rows stored top-down (a negative
    height), and a 32-bit BITMAPV4HEADER with BI_BITFIELDS and an alpha mask (read back as RGBA).
Prints {name: {"mode", "rgb", "gray", "rgba"}} with PIL's decode of each file: `rgb` is convert("RGB"), `gray`
convert("L"), `rgba` convert("RGBA"), each a flat list of values, row by row from the top.
"""
import json
import os
import struct
import sys

import numpy as np
from PIL import Image


def textured(width, height, channels, seed):
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 37 + y * 11 + c * 80) % 256 for c in range(channels)], axis=-1)
    noise = rng.randint(0, 40, size=(height, width, channels))
    return ((base + noise) % 256).astype(np.uint8)


def top_down(src, dst):
    """The same picture with its rows stored from the top: the height negated, the row order reversed."""
    data = bytearray(open(src, "rb").read())
    offset = struct.unpack_from("<I", data, 10)[0]
    width, height = struct.unpack_from("<ii", data, 18)
    row = (width * 3 + 3) // 4 * 4
    rows = [data[offset + r * row : offset + (r + 1) * row] for r in range(height)]
    struct.pack_into("<i", data, 22, -height)
    data[offset:] = b"".join(reversed(rows))
    open(dst, "wb").write(bytes(data))


def bitfields_with_alpha(pixels, dst):
    """A 32-bit BITMAPV4HEADER (108 bytes) file with BI_BITFIELDS masks R, G, B, A, rows bottom-up."""
    height, width, _ = pixels.shape
    header = struct.pack(
        "<IiiHHIIiiIIIIIII", 108, width, height, 1, 32, 3, width * height * 4, 2835, 2835, 0, 0,
        0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000, 0x73524742,
    ) + bytes(48)
    body = b"".join(pixels[r][:, [2, 1, 0, 3]].tobytes() for r in range(height - 1, -1, -1))
    offset = 14 + len(header)
    open(dst, "wb").write(b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset) + header + body)


def main():
    case = json.load(sys.stdin)
    folder, width, height = case["dir"], case["width"], case["height"]
    os.makedirs(folder, exist_ok=True)
    path = lambda name: os.path.join(folder, name + ".bmp")
    rgb = textured(width, height, 3, 1)
    Image.fromarray(rgb, "RGB").save(path("rgb24"))
    rgba = np.dstack([textured(width, height, 3, 2), textured(width, height, 1, 3)])
    Image.fromarray(rgba, "RGBA").save(path("rgba32"))
    Image.fromarray(textured(width, height, 3, 4), "RGB").quantize(colors=37).save(path("palette8"))
    Image.fromarray(textured(width, height, 1, 5)[:, :, 0], "L").save(path("gray8"))
    Image.fromarray(textured(width, height, 1, 6)[:, :, 0] > 127).convert("1").save(path("mono1"))
    top_down(path("rgb24"), path("topdown24"))
    bitfields_with_alpha(np.dstack([textured(width, height, 3, 7), textured(width, height, 1, 8)]), path("alpha32"))

    out = {}
    for name in sorted(n[:-4] for n in os.listdir(folder) if n.endswith(".bmp")):
        image = Image.open(path(name))
        image.load()
        out[name] = {
            "mode": image.mode,
            "rgb": np.asarray(image.convert("RGB")).ravel().tolist(),
            "gray": np.asarray(image.convert("L")).ravel().tolist(),
            "rgba": np.asarray(image.convert("RGBA")).ravel().tolist(),
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
