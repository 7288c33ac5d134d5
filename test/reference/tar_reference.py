"""Tar references from Python's own tarfile module, for the shard tests.

  tar_reference.py members <shard.tar>             -> JSON [{name, offset, data, size}] (offset: the member's first
                                                     header, its pax or long-name one if any; data: its data)
  tar_reference.py write <out.tar> <format>        -> writes the members {name, size} given as JSON on stdin (data:
                                                     bytes i % 251), in tarfile's format ustar, gnu or pax
  tar_reference.py sparse <out.tar> <n> <bytes>   -> writes n samples <k>.jpg (a hole of <bytes>) + <k>.cls,
                                                     then prints the members as above
A sparse member's data are a hole in the file: the tar claims them, the disk holds (almost) nothing.
"""
import io
import json
import sys
import tarfile


def members(path):
    with tarfile.open(path, "r:") as t:
        return [{"name": m.name, "offset": m.offset, "data": m.offset_data, "size": m.size} for m in t.getmembers()]


def write(path, fmt):
    spec = json.load(sys.stdin)
    formats = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}
    with tarfile.open(path, "w", format=formats[fmt]) as t:
        for m in spec:
            info = tarfile.TarInfo(m["name"])
            info.size = m["size"]
            t.addfile(info, io.BytesIO(bytes(i % 251 for i in range(m["size"]))))


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
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3])
    if sys.argv[1] == "sparse":
        sparse(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    print(json.dumps(members(sys.argv[2])))
