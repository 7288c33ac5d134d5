"""Reference float32 values from 8-bit levels for imgstream's dtype tests.

Reads one JSON job on stdin: {"levels": [...], "channels": c, "normalize": "none" | "unit" | "symmetric" |
{"mean": [...], "std": [...]}}. The documented rule: 'unit' is x / 255, 'symmetric' x / 255 * 2 - 1 and
{mean, std} (x / 255 - mean) / std, each as the affine map x * scale + offset with scale and offset computed in
float64 and cast to float32, then applied in numpy float32 arithmetic (the product rounded, then the sum).
Writes the float32 results' bit patterns (uint32) as one JSON list.
"""
import json
import sys

import numpy as np

job = json.load(sys.stdin)
c = job["channels"]
levels = np.array(job["levels"], dtype=np.uint8).reshape(-1, c)
norm = job["normalize"]
if norm == "none":
    scale, offset = [1.0] * c, [0.0] * c
elif norm == "unit":
    scale, offset = [1 / 255] * c, [0.0] * c
elif norm == "symmetric":
    scale, offset = [2 / 255] * c, [-1.0] * c
else:
    mean = norm["mean"] if isinstance(norm["mean"], list) else [norm["mean"]] * c
    std = norm["std"] if isinstance(norm["std"], list) else [norm["std"]] * c
    scale = [1 / (255 * s) for s in std]
    offset = [-m / s for m, s in zip(mean, std)]
values = levels.astype(np.float32) * np.array(scale, dtype=np.float32) + np.array(offset, dtype=np.float32)
assert values.dtype == np.float32
json.dump(values.reshape(-1).view(np.uint32).tolist(), sys.stdout)
