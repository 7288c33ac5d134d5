"""PyTorch's DataLoader on the same folder: torchvision ImageFolder + Resize((h, w)) + PILToTensor (uint8)
or ToTensor + Normalize (float32), num_workers from the config. Peak memory is the PSS sum of the process
tree (the main process and its workers), sampled every 500 ms. Prints one JSON line, as the other
scenarios do."""
import json
import resource
import sys
import threading
import time

import psutil
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


PSS_PERIOD_S = 0.5


def tree_pss(root):
    total = 0
    for p in [root] + root.children(recursive=True):
        try:
            total += p.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def tree_cpu(root):
    """User + system seconds of this process, of its finished children (the DataLoader joins its workers when
    the iterator is exhausted) and of its live ones."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + done.ru_utime + done.ru_stime
    for p in root.children(recursive=True):
        try:
            t = p.cpu_times()
            total += t.user + t.system
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
    sampler_cpu = [0.0]
    stop = threading.Event()

    def sample():
        # Reading PSS makes the kernel walk every mapping of a process (~7 ms for a torch process, holding its
        # memory-map lock): sampled every 100 ms, that cost the loader ~8% of its images/s on 2 cores. Every
        # 500 ms it costs under 2% and finds the same peak (the workers' memory is steady after their start).
        # The sampler's own CPU time is taken out of the loader's.
        while not stop.wait(PSS_PERIOD_S):
            peak[0] = max(peak[0], tree_pss(root))
        sampler_cpu[0] = time.thread_time()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    # warmEpochs: that many epochs run first untimed, with persistent workers (else every epoch starts its
    # workers again), and the next one is timed alone.
    warm = int(config["options"].get("warmEpochs", 0))
    cpu_started = tree_cpu(root)
    started = time.perf_counter()
    dataset = datasets.ImageFolder(config["dir"], transform=transforms.Compose([transforms.Resize((height, width))] + tail))
    loader = DataLoader(dataset, batch_size=config["batchSize"], shuffle=True, num_workers=num_workers, persistent_workers=warm > 0 and num_workers > 0)
    for _ in range(warm):
        for _ in loader:
            pass
    if warm > 0:
        # The sampler's CPU so far is in the tree's and comes out of it at the end with the rest (Linux' thread clocks).
        cpu_started = tree_cpu(root) - time.clock_gettime(time.pthread_getcpuclockid(sampler.ident))
        started = time.perf_counter()
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
    cpu = tree_cpu(root) - cpu_started
    del iterator
    stop.set()
    sampler.join()
    cpu -= sampler_cpu[0]
    print(json.dumps({
        "images": images,
        "batches": batches,
        "wallMs": wall * 1000,
        "timeToFirstBatchMs": first * 1000,
        "stallMs": stall * 1000,
        "peakMemoryBytes": peak[0],
        "cpuMs": cpu * 1000,
        "extra": {"numWorkers": num_workers, "warmEpochs": warm, "torch": torch.__version__, "torchThreads": torch.get_num_threads()},
    }), flush=True)


if __name__ == "__main__":
    main()
