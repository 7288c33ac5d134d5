"""Reference rank shares for imgstream's `shard` tests: PyTorch's own
torch.utils.data.distributed.DistributedSampler (Debian's python3-torch), on
  - a dataset of n samples ({"n": ...}: the sampler's indices), or
  - torchvision's ImageFolder over a folder ({"dir": ...}: the paths, relative to it, it yields).

Reads a JSON list of cases on stdin, each
  {"n" | "dir", "count", "shuffle", "seed", "epoch", "dropLast"}
and prints one JSON result per case: a list of `count` lists, rank r's samples in its order.
"""
import json
import os
import sys

import torch
from torch.utils.data.distributed import DistributedSampler


class Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


def shares(case):
    if "dir" in case:
        from torchvision.datasets import ImageFolder

        folder = ImageFolder(case["dir"])
        dataset = folder
        name = lambda i: os.path.relpath(folder.samples[i][0], case["dir"])
    else:
        dataset = Sized(case["n"])
        name = lambda i: i
    out = []
    for rank in range(case["count"]):
        sampler = DistributedSampler(
            dataset,
            num_replicas=case["count"],
            rank=rank,
            shuffle=case["shuffle"],
            seed=case["seed"],
            drop_last=case["dropLast"],
        )
        sampler.set_epoch(case["epoch"])
        out.append([name(i) for i in sampler])
    return out


def main():
    cases = json.load(sys.stdin)
    json.dump([shares(case) for case in cases], sys.stdout)


if __name__ == "__main__":
    main()
