#!/usr/bin/env python3
"""Craft VHD/VHDX test images that qemu-img cannot make.

  mkvhd.py vhd-diff PARENT CHILD [opts]    differencing VHD over PARENT
  mkvhd.py vhdx-diff PARENT CHILD [opts]   differencing VHDX over PARENT
  mkvhd.py vhdx-dirty SRC OUT [--break]    copy of a dynamic VHDX whose
                                           header points at a dirty log
  mkvhd.py vhd-set FILE FIELD VALUE        patch a VHD footer field and fix
                                           the checksums (size, uuid)
  mkvhd.py poke FILE OFFSET HEXBYTES       overwrite bytes (no checksum fix)

Differencing options:
  --write OFF:LEN:BYTE   data written in the child (sector aligned), repeatable
  --zero-block N         (VHDX) mark payload block N as ZERO, repeatable
  --expect-in RAW --expect-out RAW
                         the parent's flattened raw in, the child's out
  --locator NAME         stored parent path (default: the parent's basename)
  --no-relative          (VHD) no W2ru locator, only absolute + unicode name
Only the standard library is used.
"""
import argparse
import os
import shutil
import struct
import sys
import uuid

MiB = 1 << 20

# ---------------------------------------------------------------- helpers


def crc32c(data, crc=0):
    table = crc32c.table
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


crc32c.table = _crc_table()


def seal_crc(buf, csum_off=4):
    buf[csum_off:csum_off + 4] = b"\0\0\0\0"
    struct.pack_into("<I", buf, csum_off, crc32c(bytes(buf)))


def vhd_checksum(buf, csum_off):
    s = sum(buf[:csum_off]) + sum(buf[csum_off + 4:])
    return (~s) & 0xFFFFFFFF


def guid_bytes(text):
    return uuid.UUID(text).bytes_le


def parse_writes(specs):
    out = []
    for s in specs or []:
        off, length, byte = s.split(":")
        out.append((parse_num(off), parse_num(length), int(byte, 0)))
    return out


def parse_num(s):
    total = 0
    for part in s.split("+"):
        mult = 1
        for suf, m in (("k", 1 << 10), ("K", 1 << 10), ("M", MiB),
                       ("G", 1 << 30), ("T", 1 << 40)):
            if part.endswith(suf):
                part, mult = part[:-1], m
        total += int(part, 0) * mult
    return total


def write_expected(args, vsize, writes, zero_ranges=()):
    if not args.expect_out:
        return
    with open(args.expect_in, "rb") as f:
        data = bytearray(f.read())
    data = data[:vsize] + bytes(max(0, vsize - len(data)))
    for off, length in zero_ranges:
        data[off:off + length] = bytes(length)
    for off, length, byte in writes:
        data[off:off + length] = bytes([byte]) * length
    with open(args.expect_out, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- VHD


def vhd_read_footer(path):
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(size - 512)
        foot = f.read(512)
    assert foot[:8] == b"conectix", path
    return foot


def vhd_vsize(foot):
    # Same rule as the reader (and qemu): CHS unless the creator sizes by
    # the size field or the geometry is maxed out.
    cyls, heads, secs = struct.unpack_from(">HBB", foot, 56)
    if foot[28:32] in (b"win ", b"qem2", b"d2v ", b"CTXS", b"tap\0") or \
            cyls * heads * secs == 65535 * 16 * 255:
        return struct.unpack_from(">Q", foot, 48)[0] // 512 * 512
    return cyls * heads * secs * 512


def vhd_footer(disk_type, size, data_offset, uid):
    f = bytearray(512)
    f[0:8] = b"conectix"
    struct.pack_into(">IIQI", f, 8, 2, 0x00010000, data_offset, 0)
    f[28:32] = b"win "
    struct.pack_into(">II", f, 32, 0x000A0000, 0x5769326B)
    struct.pack_into(">QQ", f, 40, size, size)
    struct.pack_into(">HBB", f, 56, 65535, 16, 255)
    struct.pack_into(">I", f, 60, disk_type)
    f[68:84] = uid
    struct.pack_into(">I", f, 64, vhd_checksum(f, 64))
    return f


def utf16(s, enc):
    return s.encode(enc)


def cmd_vhd_diff(args):
    pfoot = vhd_read_footer(args.parent)
    vsize = vhd_vsize(pfoot)
    bs = args.block_size
    nblocks = (vsize + bs - 1) // bs
    bitmap_size = ((bs // 512 + 7) // 8 + 511) // 512 * 512
    writes = parse_writes(args.write)

    name = args.locator or os.path.basename(args.parent)
    rel = ".\\" + name.replace("/", "\\")
    absolute = "C:\\nonexistent\\dir\\" + os.path.basename(name)
    bat_off = 1536
    bat_bytes = (nblocks * 4 + 511) // 512 * 512
    loc_off = bat_off + bat_bytes
    locs = []
    if not args.no_relative:
        locs.append((b"W2ru", utf16(rel, "utf-16-le")))
    locs.append((b"W2ku", utf16(absolute, "utf-16-le")))
    pos = loc_off
    loc_entries = []
    blobs = []
    for code, blob in locs:
        space = (len(blob) + 511) // 512 * 512
        loc_entries.append((code, space, len(blob), pos))
        blobs.append((pos, blob))
        pos += space
    data_start = pos

    # Which sectors of which blocks get written.
    block_sectors = {}
    for off, length, _ in writes:
        assert off % 512 == 0 and length % 512 == 0
        for sec in range(off // 512, (off + length) // 512):
            block_sectors.setdefault(sec * 512 // bs, set()).add(
                sec % (bs // 512))
    bat = [0xFFFFFFFF] * nblocks
    block_pos = {}
    pos = data_start
    for b in sorted(block_sectors):
        bat[b] = pos // 512
        block_pos[b] = pos
        pos += bitmap_size + bs
    total = pos + 512

    out = bytearray(total)
    uid = uuid.uuid4().bytes
    foot = vhd_footer(4, vsize, 512, uid)
    out[0:512] = foot
    out[total - 512:total] = foot
    dh = bytearray(1024)
    dh[0:8] = b"cxsparse"
    struct.pack_into(">QQIII", dh, 8, 0xFFFFFFFFFFFFFFFF, bat_off, 0x00010000,
                     nblocks, bs)
    dh[40:56] = pfoot[68:84]  # parent unique id
    struct.pack_into(">I", dh, 56, struct.unpack_from(">I", pfoot, 24)[0])
    pname = utf16(os.path.basename(name), "utf-16-be")[:512]
    dh[64:64 + len(pname)] = pname
    for i, (code, space, length, off) in enumerate(loc_entries):
        e = 576 + 24 * i
        dh[e:e + 4] = code
        struct.pack_into(">III", dh, e + 4, space, length, 0)
        struct.pack_into(">Q", dh, e + 16, off)
    struct.pack_into(">I", dh, 36, vhd_checksum(dh, 36))
    out[512:1536] = dh
    for i, v in enumerate(bat):
        struct.pack_into(">I", out, bat_off + 4 * i, v)
    for off, blob in blobs:
        out[off:off + len(blob)] = blob
    for b, secs in block_sectors.items():
        base = block_pos[b]
        for s in secs:
            out[base + s // 8] |= 0x80 >> (s % 8)
    for off, length, byte in writes:
        while length:
            b, inb = divmod(off, bs)
            n = min(length, bs - inb)
            p = block_pos[b] + bitmap_size + inb
            out[p:p + n] = bytes([byte]) * n
            off += n
            length -= n
    with open(args.child, "wb") as f:
        f.write(out)
    write_expected(args, vsize, writes)


def cmd_vhd_set(args):
    with open(args.file, "r+b") as f:
        f.seek(0, 2)
        size = f.tell()
        spots = [size - 512]
        f.seek(0)
        if f.read(8) == b"conectix":
            spots.append(0)
        for at in spots:
            f.seek(at)
            foot = bytearray(f.read(512))
            if args.field == "size":
                struct.pack_into(">Q", foot, 48, parse_num(args.value))
                foot[28:32] = b"win "
            elif args.field == "uuid":
                foot[68:84] = uuid.UUID(args.value).bytes
            elif args.field == "type":
                struct.pack_into(">I", foot, 60, int(args.value, 0))
            struct.pack_into(">I", foot, 64, vhd_checksum(foot, 64))
            f.seek(at)
            f.write(foot)


# ---------------------------------------------------------------- VHDX

G_BAT = "2DC27766-F623-4200-9D64-115E9BFD4A08"
G_META = "8B7CA206-4790-4B9A-B8FE-575F050F886E"
G_FILE_PARAMS = "CAA16737-FA36-4D43-B3B6-33F0AA44E76B"
G_DISK_SIZE = "2FA54224-CD1B-4876-B211-5DBED83BF4B8"
G_PAGE83 = "BECA12AB-B2E6-4523-93EF-C309E000C746"
G_LOGICAL = "8141BF1D-A96F-4709-BA47-F233A8FAAB5F"
G_PHYSICAL = "CDA348C7-445D-4471-9CC9-E9885251C556"
G_PARENT_LOC = "A8D35F2D-B30B-454D-ABF7-D3D84834AB0C"
G_VHDX_LOC_TYPE = "B04AEFB7-D19E-4A81-B789-25B8E9445913"


def vhdx_headers(data):
    hdrs = []
    for off in (64 * 1024, 128 * 1024):
        h = bytearray(data[off:off + 4096])
        ok = h[:4] == b"head" and crc32c(
            bytes(h[:4]) + b"\0\0\0\0" + bytes(h[8:])) == \
            struct.unpack_from("<I", h, 4)[0]
        hdrs.append((ok, struct.unpack_from("<Q", h, 8)[0], off, h))
    valid = [h for h in hdrs if h[0]]
    return max(valid, key=lambda h: h[1])


def vhdx_meta(data):
    regi = data[192 * 1024:192 * 1024 + 65536]
    n = struct.unpack_from("<I", regi, 8)[0]
    regions = {}
    for i in range(n):
        e = 16 + 32 * i
        g = uuid.UUID(bytes_le=bytes(regi[e:e + 16]))
        off, length = struct.unpack_from("<QI", regi, e + 16)
        regions[str(g).upper()] = (off, length)
    moff, _ = regions[G_META]
    count = struct.unpack_from("<H", data, moff + 10)[0]
    items = {}
    for i in range(count):
        e = moff + 32 + 32 * i
        g = str(uuid.UUID(bytes_le=bytes(data[e:e + 16]))).upper()
        off, length = struct.unpack_from("<II", data, e + 16)
        items[g] = (moff + off, length)
    return regions, items


def vhdx_build(vsize, bs, parent_path, parent_dwg, payload, zero_blocks):
    """payload: {block: {sector: byte-array}} for a differencing VHDX with
    1 MiB alignment and logical sectors of 512 bytes."""
    chunk_ratio = (1 << 23) * 512 // bs
    nblocks = (vsize + bs - 1) // bs
    chunks = (nblocks + chunk_ratio - 1) // chunk_ratio
    bat_entries = chunks * (chunk_ratio + 1)
    bat_off, meta_off = 2 * MiB, 3 * MiB
    bat_len = max(MiB, (bat_entries * 8 + MiB - 1) // MiB * MiB)
    meta_off = bat_off + bat_len
    pos = meta_off + MiB
    # Sector bitmaps for chunks with partially written blocks.
    sb_pos = {}
    for b in sorted(payload):
        c = b // chunk_ratio
        if c not in sb_pos:
            sb_pos[c] = pos
            pos += MiB
    blk_pos = {}
    for b in sorted(payload):
        blk_pos[b] = pos
        pos += bs
    out = bytearray(pos)
    out[0:8] = b"vhdxfile"
    out[8:8 + 12] = "hyper2kvm".encode("utf-16-le")[:12]
    dwg = uuid.uuid4().bytes_le
    for i, off in enumerate((64 * 1024, 128 * 1024)):
        h = bytearray(4096)
        h[0:4] = b"head"
        struct.pack_into("<Q", h, 8, 10 + i)
        h[16:32] = uuid.uuid4().bytes_le
        h[32:48] = dwg
        struct.pack_into("<HHIQ", h, 64, 0, 1, MiB, 0)
        seal_crc(h)
        out[off:off + 4096] = h
    regi = bytearray(65536)
    regi[0:4] = b"regi"
    struct.pack_into("<I", regi, 8, 2)
    for i, (g, o, l) in enumerate(((G_BAT, bat_off, bat_len),
                                   (G_META, meta_off, MiB))):
        e = 16 + 32 * i
        regi[e:e + 16] = guid_bytes(g)
        struct.pack_into("<QII", regi, e + 16, o, l, 1)
    seal_crc(regi)
    out[192 * 1024:256 * 1024] = regi
    out[256 * 1024:320 * 1024] = regi

    # Metadata: table + items.
    meta = bytearray(MiB)
    meta[0:8] = b"metadata"
    loc = bytearray(20)
    loc[0:16] = guid_bytes(G_VHDX_LOC_TYPE)
    kv = [("parent_linkage", "{%s}" % str(uuid.UUID(bytes_le=parent_dwg))),
          ("relative_path", ".\\" + parent_path.replace("/", "\\")),
          ("absolute_win32_path", "C:\\nonexistent\\" +
           os.path.basename(parent_path))]
    struct.pack_into("<H", loc, 18, len(kv))
    loc += bytes(12 * len(kv))
    for i, (k, v) in enumerate(kv):
        kb, vb = k.encode("utf-16-le"), v.encode("utf-16-le")
        ko = len(loc)
        loc += kb
        vo = len(loc)
        loc += vb
        struct.pack_into("<IIHH", loc, 20 + 12 * i, ko, vo, len(kb), len(vb))
    items = [(G_FILE_PARAMS, struct.pack("<II", bs, 2), 4),
             (G_DISK_SIZE, struct.pack("<Q", vsize), 6),
             (G_PAGE83, uuid.uuid4().bytes_le, 6),
             (G_LOGICAL, struct.pack("<I", 512), 6),
             (G_PHYSICAL, struct.pack("<I", 4096), 6),
             (G_PARENT_LOC, bytes(loc), 4)]
    struct.pack_into("<H", meta, 10, len(items))
    ipos = 65536
    for i, (g, blob, flags) in enumerate(items):
        e = 32 + 32 * i
        meta[e:e + 16] = guid_bytes(g)
        struct.pack_into("<III", meta, e + 16, ipos, len(blob), flags)
        meta[ipos:ipos + len(blob)] = blob
        ipos += (len(blob) + 7) // 8 * 8
    out[meta_off:meta_off + MiB] = meta

    # BAT, sector bitmaps, payload.
    spb = bs // 512
    for c, p in sb_pos.items():
        idx = c * (chunk_ratio + 1) + chunk_ratio
        struct.pack_into("<Q", out, bat_off + 8 * idx, p | 6)
    for b in range(nblocks):
        idx = b + b // chunk_ratio
        state, off = 0, 0
        if b in payload:
            secs = payload[b]
            state = 6 if len(secs) == spb else 7
            off = blk_pos[b]
            for s, byte in secs.items():
                bit = (b % chunk_ratio) * spb + s
                out[sb_pos[b // chunk_ratio] + bit // 8] |= 1 << (bit % 8)
                p = off + s * 512
                out[p:p + 512] = bytes([byte]) * 512
        elif b in zero_blocks:
            state = 2
        struct.pack_into("<Q", out, bat_off + 8 * idx, off | state)
    return out


def cmd_vhdx_diff(args):
    with open(args.parent, "rb") as f:
        pdata = f.read()
    _, _, _, phdr = vhdx_headers(pdata)
    _, items = vhdx_meta(pdata)
    vsize = struct.unpack_from("<Q", pdata, items[G_DISK_SIZE][0])[0]
    writes = parse_writes(args.write)
    bs = args.block_size
    payload = {}
    for off, length, byte in writes:
        assert off % 512 == 0 and length % 512 == 0
        for sec in range(off // 512, (off + length) // 512):
            b, s = divmod(sec * 512, bs)
            payload.setdefault(b, {})[s // 512] = byte
    zero_blocks = set(args.zero_block or [])
    name = args.locator or os.path.basename(args.parent)
    out = vhdx_build(vsize, bs, name, bytes(phdr[32:48]), payload,
                     zero_blocks)
    with open(args.child, "wb") as f:
        f.write(out)
    zr = [(b * bs, min(bs, vsize - b * bs)) for b in zero_blocks
          if b not in payload]
    write_expected(args, vsize, writes, zr)


def cmd_vhdx_dirty(args):
    """Log entry with: a BAT update allocating block `nb` at the (appended)
    end of the file, a data write into an allocated block, and a zero
    descriptor over part of an allocated block."""
    shutil.copyfile(args.src, args.out)
    with open(args.out, "rb") as f:
        data = bytearray(f.read())
    _, seq, hoff, hdr = vhdx_headers(data)
    regions, items = vhdx_meta(data)
    bat_off, _ = regions[G_BAT]
    bs = struct.unpack_from("<I", data, items[G_FILE_PARAMS][0])[0]
    vsize = struct.unpack_from("<Q", data, items[G_DISK_SIZE][0])[0]
    log_len, log_off = struct.unpack_from("<IQ", hdr, 68)
    chunk_ratio = (1 << 23) * 512 // bs
    nblocks = (vsize + bs - 1) // bs

    def entry(b):
        return struct.unpack_from("<Q", data, bat_off + 8 * (b + b //
                                                             chunk_ratio))[0]
    allocated = [b for b in range(nblocks) if entry(b) & 7 == 6]
    free = [b for b in range(nblocks) if entry(b) & 7 in (0, 2, 3)]
    assert len(allocated) >= 1 and free
    ab, nb = allocated[0], free[len(free) // 2]

    # The new block: appended, 1 MiB aligned, filled with 0xC3 (flushed
    # before the log was written, like a real data write).
    new_off = (len(data) + MiB - 1) // MiB * MiB
    data += bytes(new_off - len(data)) + bytes([0xC3]) * bs
    file_end = len(data)

    descs = []  # (kind, file_offset, payload or length)
    bidx = nb + nb // chunk_ratio
    sec_off = (bat_off + 8 * bidx) // 4096 * 4096
    bat_sector = bytearray(data[sec_off:sec_off + 4096])
    struct.pack_into("<Q", bat_sector, bat_off + 8 * bidx - sec_off,
                     new_off | 6)
    descs.append(("desc", sec_off, bytes(bat_sector)))
    a_off = entry(ab) & ~0xFFFFF
    descs.append(("desc", a_off + 8192, bytes([0x3C]) * 4096))
    descs.append(("zero", a_off + 16384, 8192))

    log_guid = uuid.uuid4().bytes_le
    seqno = 0x1234
    ndata = sum(1 for d in descs if d[0] == "desc")
    dsecs = (64 + 32 * len(descs) + 4095) // 4096
    elen = (dsecs + ndata) * 4096
    e = bytearray(elen)
    e[0:4] = b"loge"
    struct.pack_into("<IIQII", e, 8, elen, 0, seqno, len(descs), 0)
    e[32:48] = log_guid
    struct.pack_into("<QQ", e, 48, file_end, file_end)
    dpos = dsecs * 4096
    for i, (kind, off, blob) in enumerate(descs):
        d = 64 + 32 * i
        e[d:d + 4] = kind.encode()
        if kind == "zero":
            struct.pack_into("<IQQQ", e, d + 4, 0, blob, off, seqno)
        else:
            e[d + 4:d + 8] = blob[4092:4096]
            e[d + 8:d + 16] = blob[0:8]
            struct.pack_into("<QQ", e, d + 16, off, seqno)
            s = e[dpos:dpos + 4096]
            s[0:4] = b"data"
            struct.pack_into("<I", s, 4, seqno >> 32)
            s[8:4092] = blob[8:4092]
            struct.pack_into("<I", s, 4092, seqno & 0xFFFFFFFF)
            e[dpos:dpos + 4096] = s
            dpos += 4096
    if args.broken:
        # Point the tail at a sector holding no entry.
        struct.pack_into("<I", e, 12, 64 * 4096)
    seal_crc(e)
    assert elen <= log_len
    data[log_off:log_off + elen] = e

    # New current header (seq+1) naming the log.
    other = 128 * 1024 if hoff == 64 * 1024 else 64 * 1024
    h = bytearray(hdr)
    struct.pack_into("<Q", h, 8, seq + 1)
    h[48:64] = log_guid
    seal_crc(h)
    data[other:other + 4096] = h
    with open(args.out, "wb") as f:
        f.write(data)


def cmd_poke(args):
    with open(args.file, "r+b") as f:
        f.seek(parse_num(args.offset))
        f.write(bytes.fromhex(args.hexbytes))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, fn, bs in (("vhd-diff", cmd_vhd_diff, 2 * MiB),
                         ("vhdx-diff", cmd_vhdx_diff, MiB)):
        p = sub.add_parser(name)
        p.add_argument("parent")
        p.add_argument("child")
        p.add_argument("--write", action="append")
        p.add_argument("--zero-block", type=int, action="append")
        p.add_argument("--block-size", type=parse_num, default=bs)
        p.add_argument("--expect-in")
        p.add_argument("--expect-out")
        p.add_argument("--locator")
        p.add_argument("--no-relative", action="store_true")
        p.set_defaults(fn=fn)
    p = sub.add_parser("vhdx-dirty")
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--broken", action="store_true")
    p.set_defaults(fn=cmd_vhdx_dirty)
    p = sub.add_parser("vhd-set")
    p.add_argument("file")
    p.add_argument("field", choices=("size", "uuid", "type"))
    p.add_argument("value")
    p.set_defaults(fn=cmd_vhd_set)
    p = sub.add_parser("poke")
    p.add_argument("file")
    p.add_argument("offset")
    p.add_argument("hexbytes")
    p.set_defaults(fn=cmd_poke)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
