"""PyTorch's DataLoader on the same folder: torchvision ImageFolder + Resize((h, w)) + PILToTensor (uint8)
or ToTensor + Normalize (float32), num_workers from the config. Peak memory is the PSS sum of the process
tree (the main process and its workers), sampled every 100 ms. Prints one JSON line, as the other
scenarios do."""
import json
import sys
import threading
import time

import psutil
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def tree_pss(root):
    total = 0
    for p in [root] + root.children(recursive=True):
        try:
            total += p.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def main():
    config = json.loads(sys.argv[1])
    height, width = config["imageSize"]
    num_workers = int(config["options"].get("numWorkers", 0))
    if config["dtype"] == "uint8":
        tail = [transforms.PILToTensor()]
    else:
        tail = [transforms.ToTensor(), transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]
    root = psutil.Process()
    peak = [tree_pss(root)]
    stop = threading.Event()

    def sample():
        while not stop.wait(0.1):
            peak[0] = max(peak[0], tree_pss(root))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    dataset = datasets.ImageFolder(config["dir"], transform=transforms.Compose([transforms.Resize((height, width))] + tail))
    loader = DataLoader(dataset, batch_size=config["batchSize"], shuffle=True, num_workers=num_workers)
    images = batches = 0
    stall = 0.0
    first = 0.0
    iterator = iter(loader)
    step = config["stepMs"] / 1000
    while True:
        wait = time.perf_counter()
        try:
            x, _ = next(iterator)
        except StopIteration:
            break
        now = time.perf_counter()
        if batches == 0:
            first = now - started
        else:
            stall += now - wait
        batches += 1
        images += x.shape[0]
        if step > 0:
            time.sleep(step)
    wall = time.perf_counter() - started
    del iterator
    stop.set()
    sampler.join()
    print(json.dumps({
        "images": images,
        "batches": batches,
        "wallMs": wall * 1000,
        "timeToFirstBatchMs": first * 1000,
        "stallMs": stall * 1000,
        "peakMemoryBytes": peak[0],
        "extra": {"numWorkers": num_workers, "torch": torch.__version__, "torchThreads": torch.get_num_threads()},
    }), flush=True)


if __name__ == "__main__":
    main()
