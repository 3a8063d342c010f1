#!/usr/bin/env python3
"""Write a sparse raw disk for benchmarks: VSIZE bytes virtual, about DATA
bytes of data in 1 MiB runs spread over the disk, a mix of random bytes,
text-like (compressible) bytes, explicit zero runs and small scattered
blocks. Deterministic for a given seed."""
import os
import random
import sys

MiB = 1 << 20


def main():
    path, vsize, data = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(20261122)
    words = [b"kernel", b"vmware", b"initramfs", b"network", b"qemu", b"disk",
             b"block", b"sector", b"the", b"of", b"and", b"0x00ff", b"/etc/fstab"]
    text = b" ".join(rng.choice(words) for _ in range(400000))[:4 * MiB]
    slots = vsize // MiB
    chosen = sorted(rng.sample(range(slots), min(slots, data // MiB)))
    with open(path, "wb") as f:
        f.truncate(vsize)
        for i, slot in enumerate(chosen):
            kind = i % 8
            f.seek(slot * MiB)
            if kind in (0, 1, 2):          # random: incompressible
                f.write(rng.randbytes(MiB))
            elif kind in (3, 4, 5):        # text-like
                off = rng.randrange(0, 3 * MiB)
                f.write(text[off:off + MiB])
            elif kind == 6:                # allocated zeros
                f.write(bytes(MiB))
            else:                          # scattered 64 KiB blocks
                for j in range(0, MiB, 256 * 1024):
                    f.seek(slot * MiB + j)
                    f.write(rng.randbytes(64 * 1024))


if __name__ == "__main__":
    main()
