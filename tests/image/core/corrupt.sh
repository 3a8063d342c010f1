#!/bin/bash
# Damaged or unsupported images must be refused with a clear message and a
# non-zero exit, never a crash; outputs of failed conversions are removed.
source "$(dirname "$0")/common.sh"
cd "$WORK"

M=$((1024 * 1024))
qemu-img create -q -f qcow2 good.qcow2 64M
qio good.qcow2 'write -P 0x11 0 4M' 'write -P 0x22 40M 1M'
L1=$(get_be good.qcow2 40 8)

try_convert() { # WANT IMG
  rm -f out.qcow2
  must_fail "$1" convert "$2" out.qcow2
  [[ ! -e out.qcow2 ]] || die "partial output of $2 left behind"
  pass
}

variant() { # NAME: a fresh copy of good.qcow2
  cp good.qcow2 "$1"
}

# Truncated header, truncated tables, truncated data.
head -c 50 good.qcow2 >trunc-header.qcow2
must_fail "truncated" info trunc-header.qcow2
head -c 100 good.qcow2 >trunc-v3.qcow2
must_fail "truncated" info trunc-v3.qcow2
head -c $((L1 + 4)) good.qcow2 >trunc-l1.qcow2
must_fail "L1 table" info trunc-l1.qcow2
head -c $((L1 + 65536 + 4096)) good.qcow2 >trunc-data.qcow2
must_fail "past end of file" info trunc-data.qcow2

# L1 entry pointing past EOF, and unaligned.
variant l1-eof.qcow2
put_be l1-eof.qcow2 "$L1" 8 $(((1 << 63) | (1 << 40)))
must_fail "L1 entry 0" info l1-eof.qcow2
variant l1-unaligned.qcow2
put_be l1-unaligned.qcow2 "$L1" 8 $(((1 << 63) | 196608 + 512))
must_fail "unaligned or past end of file" info l1-unaligned.qcow2

# L2 entry pointing past EOF: opens, fails when the data is needed.
variant l2-eof.qcow2
L2=$(($(get_be l2-eof.qcow2 "$L1" 8) & 0x00fffffffffffe00))
put_be l2-eof.qcow2 "$L2" 8 $(((1 << 63) | (1 << 40)))
try_convert "points to a data cluster at offset 1099511627776" l2-eof.qcow2
must_fail "past end of file" read l2-eof.qcow2 0 512
# ...and a compressed entry past EOF.
variant l2-ceof.qcow2
put_be l2-ceof.qcow2 "$((L2 + 8))" 8 $(((1 << 62) | (1 << 40)))
try_convert "compressed cluster" l2-ceof.qcow2

# Garbage in a compressed cluster.
qemu-img convert -c -O qcow2 good.qcow2 packed.qcow2
PL1=$(get_be packed.qcow2 40 8)
PL2=$(($(get_be packed.qcow2 "$PL1" 8) & 0x00fffffffffffe00))
CE=$(get_be packed.qcow2 "$PL2" 8)
COFF=$((CE & ((1 << 54) - 1)))
head -c 600 /dev/zero | tr '\0' '\377' |
  dd of=packed.qcow2 bs=1 seek="$COFF" conv=notrunc status=none
try_convert "cannot decompress" packed.qcow2

# Absurd header fields.
variant vsize.qcow2
put_be vsize.qcow2 24 8 $((1 << 62))
must_fail "exceeds the limit" info vsize.qcow2
variant l1big.qcow2
put_be l1big.qcow2 36 4 $((0x7fffffff))
must_fail "too large" info l1big.qcow2
variant l1small.qcow2
put_be l1small.qcow2 36 4 0
must_fail "too small" info l1small.qcow2
variant cbits.qcow2
put_be cbits.qcow2 20 4 30
must_fail "invalid cluster_bits 30" info cbits.qcow2
variant cbits8.qcow2
put_be cbits8.qcow2 20 4 8
must_fail "invalid cluster_bits 8" info cbits8.qcow2
variant version.qcow2
put_be version.qcow2 4 4 4
must_fail "unsupported version 4" info version.qcow2
variant hlen.qcow2
put_be hlen.qcow2 100 4 $((1 << 20))
must_fail "invalid header_length" info hlen.qcow2
variant crypt.qcow2
put_be crypt.qcow2 32 4 1
must_fail "encrypted" info crypt.qcow2
variant incompat.qcow2
put_be incompat.qcow2 72 8 $((1 << 20))
must_fail "unknown incompatible features" info incompat.qcow2
variant ctype.qcow2
put_be ctype.qcow2 72 8 8
must_fail "compression_type 0" info ctype.qcow2
variant backname.qcow2
put_be backname.qcow2 8 8 $((1 << 30))
put_be backname.qcow2 16 4 12
must_fail "backing file name location" info backname.qcow2

# Features we refuse clearly.
qemu-img create -q -f qcow2 -o data_file=ext.data ext.qcow2 16M
must_fail "external data file" info ext.qcow2
qemu-img create -q -f qcow2 -o extended_l2=on ext-l2.qcow2 16M
must_fail "extended L2" info ext-l2.qcow2

# A dirty image (crashed writer) is still readable.
variant dirty.qcow2
put_be dirty.qcow2 72 8 1
rm -f out.qcow2
"$IMGTOOL" convert dirty.qcow2 out.qcow2 2>/dev/null || die "dirty refused"
same_image good.qcow2 out.qcow2

# Backing chain loops and a missing backing file.
qemu-img create -q -f qcow2 a.qcow2 16M
qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 b.qcow2 16M
qemu-img rebase -q -u -b b.qcow2 -F qcow2 a.qcow2
must_fail "backing chain loop" info a.qcow2
try_convert "backing chain loop" b.qcow2
qemu-img create -q -f qcow2 self.qcow2 16M
qemu-img rebase -q -u -b self.qcow2 -F qcow2 self.qcow2
must_fail "backing chain loop" info self.qcow2
qemu-img create -q -f qcow2 gone.qcow2 16M
qemu-img create -q -f qcow2 -b gone.qcow2 -F qcow2 orphan.qcow2 16M
rm gone.qcow2
must_fail "backing file 'gone.qcow2'" info orphan.qcow2
must_fail "No such file or directory" info orphan.qcow2
qemu-img create -q -f qcow2 hint.qcow2 16M
qemu-img create -q -u -f qcow2 -b hint.qcow2 -F vdi badhint.qcow2 16M
must_fail "unknown or unsupported format 'vdi'" info badhint.qcow2

# Not an image at all / not there.
must_fail "No such file or directory" info nonexistent.qcow2
mkdir adir
must_fail "is a directory" info adir
must_fail "unknown or unsupported format 'qcow3'" info -f qcow3 good.qcow2
must_fail "not a qcow2 image" info -f qcow2 trunc-header.qcow2

# Output safety: an existing output is never overwritten; a cancelled
# conversion leaves nothing behind; bad options are refused.
echo keep >exists.qcow2
must_fail "File exists" convert good.qcow2 exists.qcow2
[[ $(cat exists.qcow2) == keep ]] || die "existing output clobbered"
pass
rm -f out.qcow2
rc=0
"$IMGTOOL" convert --cancel good.qcow2 out.qcow2 2>err.txt || rc=$?
[[ $rc -eq 130 ]] || die "cancel exit $rc: $(cat err.txt)"
grep -q cancelled err.txt || die "cancel message: $(cat err.txt)"
[[ ! -e out.qcow2 ]] || die "cancelled output left behind"
pass
must_fail "cluster size 1000" convert -s 1000 good.qcow2 out.qcow2
must_fail "compression needs qcow2 output" convert -O raw -c good.qcow2 o.raw
[[ ! -e o.raw ]] || die "refused output created"
pass
qemu-img create -q -f qcow2 big.qcow2 16T
must_fail "too small for a" convert -s 512 big.qcow2 out.qcow2
[[ ! -e out.qcow2 ]] || die "refused output created"
pass

finish
