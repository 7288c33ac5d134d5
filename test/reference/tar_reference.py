"""Tar references from Python's own tarfile module, for the shard tests.

  tar_reference.py members <shard.tar>             -> JSON [{name, offset, size}] (offset: the member's first header)
  tar_reference.py sparse <out.tar> <n> <bytes>   -> writes n samples <k>.jpg (a hole of <bytes>) + <k>.cls,
                                                     then prints the members as above
A sparse member's data are a hole in the file: the tar claims them, the disk holds (almost) nothing.
"""
import json
import sys
import tarfile


def members(path):
    with tarfile.open(path, "r:") as t:
        return [{"name": m.name, "offset": m.offset, "size": m.size} for m in t.getmembers()]


def sparse(path, n, size):
    with open(path, "wb") as f:
        for i in range(n):
            info = tarfile.TarInfo(f"big/{i:04d}.jpg")
            info.size = size
            f.write(info.tobuf(tarfile.USTAR_FORMAT))
            f.seek(size + (-size % 512), 1)
            label = tarfile.TarInfo(f"big/{i:04d}.cls")
            label.size = 1
            f.write(label.tobuf(tarfile.USTAR_FORMAT))
            f.write(b"1" + b"\0" * 511)
        f.write(b"\0" * 1024)


if __name__ == "__main__":
    if sys.argv[1] == "sparse":
        sparse(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    print(json.dumps(members(sys.argv[2])))
