#!/usr/bin/env python3
"""Craft VMDK images that qemu-img cannot write, plus the expected raw disk.

Usage: gen_vmdk.py KIND DIR      (writes DIR/<files> and DIR/expected.raw)
       gen_vmdk.py patch FILE OFFSET FORMAT VALUE   (struct-pack into FILE)
       gen_vmdk.py stream-footer IN OUT  (streamOptimized with GD at the end)

KINDs: vmfs, vmfsthin, zero, cowd, sesparse.
The expected raw is built independently of the VMDK layout so that it can
serve as the oracle for `qemu-img compare`.
"""
import os
import struct
import sys

SECTOR = 512
MIB = 1 << 20


def pattern(off, n, seed):
    """Deterministic bytes that differ per sector and per seed."""
    # Byte at offset o: (seed * 37 + (o >> 9) * 13 + o) & 0xff, built one
    # sector piece at a time from a ramp.
    ramp = bytes(range(256)) * 4
    out = bytearray()
    o = off
    while o < off + n:
        piece = min(SECTOR - o % SECTOR, off + n - o)
        start = (seed * 37 + (o >> 9) * 13 + o) & 0xFF
        out += ramp[start:start + piece]
        o += piece
    if not any(out):
        out[0] = 1
    return bytes(out)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def descriptor(create_type, extents, cid, parent_cid=0xFFFFFFFF, parent=None,
               extra=""):
    lines = ["# Disk DescriptorFile", "version=1", 'encoding="UTF-8"',
             "CID=%08x" % cid, "parentCID=%08x" % parent_cid,
             'createType="%s"' % create_type]
    if parent:
        lines.append('parentFileNameHint="%s"' % parent)
    lines += ["", "# Extent description"] + extents
    lines += ["", "# The Disk Data Base", "#DDB", "",
              'ddb.adapterType = "lsilogic"', 'ddb.virtualHWVersion = "14"']
    return ("\n".join(lines) + "\n" + extra).encode()


class Disk:
    """The expected guest view, kept as a sparse dict of written ranges."""

    def __init__(self, size):
        self.size = size
        self.data = bytearray(size)

    def put(self, off, data):
        self.data[off:off + len(data)] = data

    def save(self, path):
        write(path, bytes(self.data))


# ---- flat bases ----------------------------------------------------------

BASE_SIZE = 16 * MIB
BASE_CID = 0x11111111
BASE_WRITES = [(0, 64 * 1024, 1), (1 * MIB + 512, 3000, 2),
               (8 * MIB, 256 * 1024, 3), (BASE_SIZE - 4096, 4096, 4)]


def make_flat_base(d, create_type="vmfs", name="base"):
    disk = Disk(BASE_SIZE)
    flat = bytearray(BASE_SIZE)
    for off, n, seed in BASE_WRITES:
        data = pattern(off, n, seed)
        disk.put(off, data)
        flat[off:off + n] = data
    write(os.path.join(d, name + "-flat.vmdk"), bytes(flat))
    desc = descriptor(create_type,
                      ['RW %d VMFS "%s-flat.vmdk"' % (BASE_SIZE // SECTOR,
                                                       name)],
                      BASE_CID)
    write(os.path.join(d, name + ".vmdk"), desc)
    return disk


def gen_vmfs(d):
    make_flat_base(d).save(os.path.join(d, "expected.raw"))


def gen_vmfsthin(d):
    """A thin VMFS disk: the flat file is sparse, mostly holes."""
    size = 64 * MIB
    disk = Disk(size)
    path = os.path.join(d, "thin-flat.vmdk")
    with open(path, "wb") as f:
        f.truncate(size)
        for off, n, seed in [(4096, 8192, 7), (40 * MIB, 70000, 8)]:
            data = pattern(off, n, seed)
            f.seek(off)
            f.write(data)
            disk.put(off, data)
    desc = descriptor("vmfsThin",
                      ['RW %d VMFS "thin-flat.vmdk"' % (size // SECTOR)],
                      0x0BADCAFE, extra='ddb.thinProvisioned = "1"\n')
    write(os.path.join(d, "thin.vmdk"), desc)
    disk.save(os.path.join(d, "expected.raw"))


def gen_zero(d):
    """FLAT, ZERO and FLAT-with-offset extents in one disk."""
    a, z, b = 1 * MIB, 2 * MIB, 1 * MIB
    disk = Disk(a + z + b)
    da = pattern(0, a, 21)
    write(os.path.join(d, "z-f001.vmdk"), da)
    disk.put(0, da)
    # The second file holds junk first: the extent starts at sector 2048.
    db = pattern(0, b, 22)
    write(os.path.join(d, "z-f002.vmdk"), pattern(0, MIB, 99) + db)
    disk.put(a + z, db)
    desc = descriptor("twoGbMaxExtentFlat",
                      ['RW %d FLAT "z-f001.vmdk" 0' % (a // SECTOR),
                       "RW %d ZERO" % (z // SECTOR),
                       'RW %d FLAT "z-f002.vmdk" 2048' % (b // SECTOR)],
                      0x5EED0001)
    write(os.path.join(d, "zero.vmdk"), desc)
    disk.save(os.path.join(d, "expected.raw"))


# ---- COWD (VMFSSPARSE) delta ---------------------------------------------

def gen_cowd(d, grain_sectors=8):
    disk = make_flat_base(d)
    capacity = BASE_SIZE // SECTOR
    gtes = 4096
    grain = grain_sectors * SECTOR
    n_gd = -(-capacity // grain_sectors // gtes)
    gd_sector = 4
    gt_sector = gd_sector + -(-n_gd * 4 // SECTOR)
    gt_sectors = gtes * 4 // SECTOR
    gts = [bytearray(gtes * 4) for _ in range(n_gd)]
    next_sector = gt_sector + n_gd * gt_sectors
    grains = bytearray()
    # Grains overwritten by the delta: some over base data, some fresh.
    for gidx, seed in [(0, 31), (1, 32), (2049 // grain_sectors, 33),
                       (capacity // grain_sectors - 1, 34),
                       ((8 * MIB) // grain + 5, 35)]:
        data = pattern(gidx * grain, grain, seed)
        disk.put(gidx * grain, data)
        sector = next_sector + len(grains) // SECTOR
        struct.pack_into("<I", gts[gidx // gtes], (gidx % gtes) * 4, sector)
        grains += data
    hdr = bytearray(4 * SECTOR)
    struct.pack_into("<4sIIIIIII", hdr, 0, b"COWD", 1, 3, capacity,
                     grain_sectors, gd_sector, n_gd,
                     next_sector + len(grains) // SECTOR)
    gd = bytearray(-(-n_gd * 4 // SECTOR) * SECTOR)
    for i in range(n_gd):
        struct.pack_into("<I", gd, i * 4, gt_sector + i * gt_sectors)
    body = bytes(hdr) + bytes(gd) + b"".join(bytes(t) for t in gts)
    assert len(body) == next_sector * SECTOR
    write(os.path.join(d, "delta-delta.vmdk"), body + bytes(grains))
    desc = descriptor("vmfsSparse",
                      ['RW %d VMFSSPARSE "delta-delta.vmdk"' % capacity],
                      0x22222222, BASE_CID, "base.vmdk")
    write(os.path.join(d, "delta.vmdk"), desc)
    disk.save(os.path.join(d, "expected.raw"))


# ---- SESPARSE delta ------------------------------------------------------

SE_ZERO = 0x2000000000000000
SE_UNMAPPED = 0x1000000000000000


def se_alloc(idx):
    return 0x3000000000000000 | ((idx & 0xFFF) << 48) | (idx >> 12)


def gen_sesparse(d):
    disk = make_flat_base(d)
    capacity = BASE_SIZE // SECTOR
    grain = 8 * SECTOR
    gtes = 4096                       # 64 sectors of 8-byte entries
    n_gt = -(-capacity // 8 // gtes)  # grain tables needed
    gd_off, gd_size = 4, 1
    gt_off, gt_size = 8, 64 * (n_gt + 1)   # one spare table
    grains_off = gt_off + gt_size
    gts = [bytearray(gtes * 8) for _ in range(n_gt + 1)]
    grains = bytearray()
    # Store grain tables in reverse order to exercise the GD indirection.
    gt_index = {i: n_gt - i for i in range(n_gt)}
    writes = [(0, 41), (3, 42), ((8 * MIB) // grain + 1, 43),
              (capacity // 8 - 1, 44)]
    for gidx, seed in writes:
        data = pattern(gidx * grain, grain, seed)
        disk.put(gidx * grain, data)
        idx = len(grains) // grain
        gt = gts[gt_index[gidx // gtes]]
        struct.pack_into("<Q", gt, (gidx % gtes) * 8, se_alloc(idx))
        grains += data
    # Zeroed and unmapped grains hide base data.
    for gidx, val in [(2, SE_ZERO), ((8 * MIB) // grain + 2, SE_UNMAPPED),
                      (capacity // 8 - 2, SE_ZERO)]:
        disk.put(gidx * grain, bytes(grain))
        gt = gts[gt_index[gidx // gtes]]
        struct.pack_into("<Q", gt, (gidx % gtes) * 8, val)
    grains_size = len(grains) // SECTOR
    hdr = bytearray(SECTOR)
    struct.pack_into("<QQQQQQ", hdr, 0, 0xCAFEBABE, 0x0000000200000001,
                     capacity, 8, 64, 0)
    struct.pack_into("<16Q", hdr, 80, 1, 1, 2, 1, 3, 1, gd_off, gd_size,
                     gt_off, gt_size, 0, 0, 0, 0, grains_off, grains_size)
    vol = bytearray(SECTOR)
    struct.pack_into("<QQQQ", vol, 0, 0xCAFECAFE, 0, 1, 0)
    gd = bytearray(gd_size * SECTOR)
    for i in range(n_gt):
        struct.pack_into("<Q", gd, i * 8, 0x1000000000000000 | gt_index[i])
    body = (bytes(hdr) + bytes(vol) + bytes(2 * SECTOR) + bytes(gd) +
            bytes(3 * SECTOR) + b"".join(bytes(t) for t in gts))
    assert len(body) == grains_off * SECTOR
    write(os.path.join(d, "se-sesparse.vmdk"), body + bytes(grains))
    desc = descriptor("seSparse",
                      ['RW %d SESPARSE "se-sesparse.vmdk"' % capacity],
                      0x33333333, BASE_CID, "base.vmdk")
    write(os.path.join(d, "se.vmdk"), desc)
    disk.save(os.path.join(d, "expected.raw"))


# ---- helpers for the shell tests -----------------------------------------

def patch(path, offset, fmt, value):
    with open(path, "r+b") as f:
        f.seek(int(offset, 0))
        f.write(struct.pack("<" + fmt, int(value, 0)))


def stream_footer(src, dst):
    """Move the grain directory offset of a streamOptimized file into a
    footer (header gdOffset = GD_AT_END), as VMware writes them."""
    data = bytearray(open(src, "rb").read())
    assert data[:4] == b"KDMV" and len(data) % SECTOR == 0
    header = bytes(data[:SECTOR])
    struct.pack_into("<Q", data, 56, 0xFFFFFFFFFFFFFFFF)
    footer_marker = struct.pack("<QII", 1, 0, 3).ljust(SECTOR, b"\0")
    eos = bytes(SECTOR)
    write(dst, bytes(data) + footer_marker + header + eos)


def main(argv):
    if len(argv) >= 2 and argv[1] == "patch":
        patch(*argv[2:6])
        return 0
    if len(argv) >= 2 and argv[1] == "stream-footer":
        stream_footer(argv[2], argv[3])
        return 0
    kinds = {"vmfs": gen_vmfs, "vmfsthin": gen_vmfsthin, "zero": gen_zero,
             "cowd": gen_cowd, "cowd1": lambda d: gen_cowd(d, 1),
             "sesparse": gen_sesparse}
    if len(argv) != 3 or argv[1] not in kinds:
        sys.stderr.write(__doc__)
        return 2
    os.makedirs(argv[2], exist_ok=True)
    kinds[argv[1]](argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
