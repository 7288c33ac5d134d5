"""Reference resizes for imgstream's compat tests.

Reads one JSON job list on stdin; each job names a raw 8-bit input file (height, width, channels) and asks for
  - "pil": PIL's Image.resize((width, height), filter) (torchvision's Resize on a PIL image),
  - "gray": PIL's convert("L"),
  - "tf": tf.image.resize(image, (height, width), method, antialias=False) written from TensorFlow 2's
    definition (TensorFlow itself is not needed): half-pixel centres, clamped 2-tap bilinear, Keys cubic
    a = -0.5 with out-of-image taps dropped and renormalised, resize_area's box coverage, and
    scale_and_translate's lanczos3/lanczos5/gaussian/mitchellcubic kernels,
  - "crop" / "pad": Keras' smart_resize crop box and resize_with_pad's box, in float32 as Keras casts them.
Writes each result to the job's "out" file (uint8 for pil/gray, float32 for tf, JSON for boxes).
"""
import json
import math
import sys

import numpy as np
from PIL import Image

F32 = np.float32


def keys(x, a=-0.5):
    x = abs(x)
    if x < 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2:
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return 0.0


def lanczos(radius):
    def kernel(x):
        x = abs(x)
        if x > radius:
            return 0.0
        if x <= 1e-3:
            return 1.0
        return radius * math.sin(math.pi * x) * math.sin(math.pi * x / radius) / (math.pi * math.pi * x * x)

    return kernel, radius


def gaussian(x):
    x = abs(x)
    return 0.0 if x >= 1.5 else math.exp(-x * x / (2 * 0.5 ** 2))


def mitchell(x):
    b = c = 1.0 / 3.0
    x = abs(x)
    if x < 1:
        return ((12 - 9 * b - 6 * c) * x ** 3 + (-18 + 12 * b + 6 * c) * x ** 2 + (6 - 2 * b)) / 6
    if x < 2:
        return ((-b - 6 * c) * x ** 3 + (6 * b + 30 * c) * x ** 2 + (-12 * b - 48 * c) * x + (8 * b + 24 * c)) / 6
    return 0.0


KERNELS = {
    "lanczos3": lanczos(3),
    "lanczos5": lanczos(5),
    "gaussian": (gaussian, 1.5),
    "mitchellcubic": (mitchell, 2.0),
}


def weight_matrix(method, n_in, n_out):
    """Row o holds the weights output o gives to each input index."""
    m = np.zeros((n_out, n_in), dtype=np.float64)
    scale = F32(n_in) / F32(n_out)
    for o in range(n_out):
        if method == "nearest":
            i = int(np.floor(F32(o + 0.5) * scale))
            m[o, min(max(i, 0), n_in - 1)] = 1
        elif method == "bilinear":
            at = F32(F32(o + 0.5) * scale) - F32(0.5)
            lo = math.floor(at)
            frac = float(at) - lo
            m[o, max(lo, 0)] += 1 - frac
            m[o, min(math.ceil(at), n_in - 1)] += frac
        elif method == "bicubic":
            at = float(F32(F32(o + 0.5) * scale) - F32(0.5))
            base = math.floor(at)
            for i in range(base - 1, base + 3):
                if 0 <= i < n_in:
                    m[o, i] += keys(i - at)
            m[o] /= m[o].sum()
        elif method == "area":
            lo, hi = float(F32(o * scale)), float(F32((o + 1) * scale))
            for i in range(math.floor(lo), math.ceil(hi)):
                cover = min(i + 1, hi) - max(i, lo)
                m[o, min(i, n_in - 1)] += cover / float(scale)
        else:
            kernel, radius = KERNELS[method]
            at = (o + 0.5) * n_in / n_out
            first = min(max(math.ceil(at - radius - 0.5), 0), n_in - 1)
            last = min(max(math.floor(at + radius - 0.5), 0), n_in - 1)
            for i in range(first, last + 1):
                m[o, i] = kernel(i + 0.5 - at)
            m[o] /= m[o].sum()
    return m


def tf_resize(image, height, width, method):
    rows = weight_matrix(method, image.shape[0], height)
    cols = weight_matrix(method, image.shape[1], width)
    down = np.tensordot(rows, image.astype(np.float64), axes=(1, 0))
    out = np.tensordot(cols, down, axes=(1, 1)).transpose(1, 0, 2)
    return out.astype(np.float32)


def crop_box(h, w, th, tw):
    ch = max(1, min(h, int(F32(F32(w * th) / F32(tw)))))
    cw = max(1, min(w, int(F32(F32(h * tw) / F32(th)))))
    return {"top": int(F32(h - ch) / F32(2)), "left": int(F32(w - cw) / F32(2)), "height": ch, "width": cw}


def pad_box(h, w, th, tw):
    ratio = max(F32(w) / F32(tw), F32(h) / F32(th))
    rh, rw = F32(h) / ratio, F32(w) / ratio
    return {
        "top": max(0, int(np.floor((F32(th) - rh) / F32(2)))),
        "left": max(0, int(np.floor((F32(tw) - rw) / F32(2)))),
        "height": int(np.floor(rh)),
        "width": int(np.floor(rw)),
    }


PIL_FILTERS = {
    "nearest": Image.NEAREST,
    "bilinear": Image.BILINEAR,
    "bicubic": Image.BICUBIC,
    "lanczos": Image.LANCZOS,
}


def load(job):
    if "file" in job:
        # What Keras' decode_image and torchvision's pil_loader see: the stored pixels, EXIF orientation and
        # ICC profile unused, alpha dropped for RGB.
        image = np.asarray(Image.open(job["file"]).convert(job.get("mode", "RGB")), dtype=np.uint8)
        return image[:, :, None] if image.ndim == 2 else image
    raw = np.fromfile(job["in"], dtype=np.uint8)
    return raw.reshape(job["inHeight"], job["inWidth"], job["channels"])


def keras_image(image, height, width, method, fit):
    """Keras' _load_image_tf after decoding: smart_resize's crop, resize_with_pad, or a plain resize."""
    if fit == "crop":
        b = crop_box(image.shape[0], image.shape[1], height, width)
        image = image[b["top"] : b["top"] + b["height"], b["left"] : b["left"] + b["width"]]
    elif fit == "pad":
        b = pad_box(image.shape[0], image.shape[1], height, width)
        inner = tf_resize(image, b["height"], b["width"], method)
        out = np.zeros((height, width, image.shape[2]), dtype=np.float32)
        out[b["top"] : b["top"] + b["height"], b["left"] : b["left"] + b["width"]] = inner
        return out
    return tf_resize(image, height, width, method)


def to_pil(image):
    return Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)


def run(job):
    kind = job["kind"]
    if kind in ("crop", "pad"):
        boxes = [(crop_box if kind == "crop" else pad_box)(*size) for size in job["sizes"]]
        with open(job["out"], "w") as f:
            json.dump(boxes, f)
        return
    image = load(job)
    if kind == "tf":
        keras_image(image, job["height"], job["width"], job["method"], job.get("fit", "stretch")).tofile(job["out"])
    elif kind == "pil":
        out = to_pil(image).resize((job["width"], job["height"]), PIL_FILTERS[job["method"]])
        np.asarray(out, dtype=np.uint8).tofile(job["out"])
    elif kind == "gray":
        np.asarray(to_pil(image).convert("L"), dtype=np.uint8).tofile(job["out"])
    else:
        raise ValueError(f"unknown job kind {kind}")


if __name__ == "__main__":
    for job in json.load(sys.stdin):
        run(job)
