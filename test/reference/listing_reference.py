"""Reference file lists for imgstream's compat tests, following the rules of
  - Keras' image_dataset_from_directory (keras/src/utils/dataset_utils.py: index_directory,
    iter_valid_files, index_subdirectory, get_training_or_validation_split), and
  - torchvision's ImageFolder (torchvision/datasets/folder.py: find_classes, make_dataset),
run with the standard library and numpy only (neither Keras nor torch is needed).

Reads a JSON list of cases on stdin, prints one JSON result per case (a list):
  {"classNames", "paths" (relative to the root), "labels", "messages"} or {"error": text}.
"""
import json
import os
import sys

import numpy as np

KERAS_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
TORCHVISION_FORMATS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def keras_files_of(folder, follow_links):
    """iter_valid_files + index_subdirectory: (relative path, ...) of one class folder."""
    found = []
    for root, _dirs, names in sorted(os.walk(folder, followlinks=follow_links), key=lambda entry: entry[0]):
        for name in sorted(names):
            if name.lower().endswith(KERAS_FORMATS):
                found.append(os.path.join(root, name))
    return found


def keras(case):
    root = case["dir"]
    messages = []
    split, subset = case.get("validationSplit"), case.get("subset")
    shuffle, seed = case.get("shuffle", True), case.get("seed")
    if split and shuffle and seed is None:
        return {"error": "seed required"}
    if case.get("labels", "inferred") == "inferred":
        classes = [
            d for d in sorted(os.listdir(root)) if os.path.isdir(os.path.join(root, d)) and not d.startswith(".")
        ]
        folders = classes
    else:
        classes = None
        folders = [""]
    paths, labels = [], []
    for label, name in enumerate(folders):
        for full in keras_files_of(os.path.join(root, name), case.get("followLinks", False)):
            paths.append(os.path.relpath(full, root))
            labels.append(label)
    if classes is None:
        messages.append(f"Found {len(paths)} files.")
        labels = None
    else:
        messages.append(f"Found {len(paths)} files belonging to {len(classes)} classes.")
    if shuffle:
        np.random.RandomState(seed).shuffle(paths)
        if labels is not None:
            labels = np.array(labels, dtype="int32")
            np.random.RandomState(seed).shuffle(labels)
            labels = labels.tolist()
    if split:
        n_val = int(split * len(paths))
        if subset == "training":
            messages.append(f"Using {len(paths) - n_val} files for training.")
            keep = slice(None, -n_val)
        else:
            messages.append(f"Using {n_val} files for validation.")
            keep = slice(-n_val, None)
        paths = paths[keep]
        labels = labels[keep] if labels is not None else None
    if not paths:
        return {"error": "no images", "messages": messages}
    return {"classNames": classes or [], "paths": paths, "labels": labels, "messages": messages}


def torchvision(case):
    root = case["dir"]
    classes = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
    paths, labels = [], []
    for label, name in enumerate(classes):
        for folder, _dirs, names in sorted(os.walk(os.path.join(root, name), followlinks=True)):
            for fname in sorted(names):
                if fname.lower().endswith(TORCHVISION_FORMATS):
                    paths.append(os.path.relpath(os.path.join(folder, fname), root))
                    labels.append(label)
    return {"classNames": classes, "paths": paths, "labels": labels, "messages": []}


if __name__ == "__main__":
    cases = json.load(sys.stdin)
    print(json.dumps([keras(c) if c["loader"] == "keras" else torchvision(c) for c in cases]))
