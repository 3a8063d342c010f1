#!/bin/bash
# Convert raw and qcow2 sources (v2, v3, zero clusters, zlib and zstd
# compressed, odd cluster sizes, odd virtual size) to qcow2 (plain, zlib,
# zstd; 4K/64K/2M clusters) and raw; qemu-img must see identical contents
# and clean qcow2 files.
source "$(dirname "$0")/common.sh"
cd "$WORK"

# A sparse raw source with patterns, random (incompressible) data and a
# partial last cluster's worth of data at the end.
truncate -s 48M src.raw
qemu-io -f raw -c 'write -P 0x5a 1M 3M' -c 'write -P 0x01 8M 4k' \
  -c 'write -P 0xff 47M 1M' src.raw >/dev/null
head -c 2M /dev/urandom | dd of=src.raw bs=1M seek=20 conv=notrunc status=none

# qcow2 v3 with data, explicit zero clusters over data and over nothing,
# and a size that is not a multiple of the cluster size.
qemu-img convert -O qcow2 src.raw v3.qcow2
qemu-img resize -q v3.qcow2 $((64 * 1024 * 1024 + 7 * 512))
qio v3.qcow2 'write -P 0x33 50M 96k' 'write -z 2M 512k' 'write -z 30M 1M' \
  'write -P 0x77 64M 3584'

qemu-img convert -O qcow2 -o compat=0.10 v3.qcow2 v2.qcow2
qemu-img convert -c -O qcow2 v3.qcow2 zlib.qcow2
qemu-img convert -c -O qcow2 -o compression_type=zstd v3.qcow2 zstd.qcow2
qemu-img convert -O qcow2 -o cluster_size=512 v3.qcow2 c512.qcow2
qemu-img convert -O qcow2 -o cluster_size=2M v3.qcow2 c2m.qcow2
# Compressed with partially zeroed/rewritten clusters on top.
cp zlib.qcow2 mixed.qcow2
qio mixed.qcow2 'write -P 0x44 1M 8k' 'write -z 47M 64k'

head -c $((3 * 1024 * 1024 + 1234)) /dev/urandom >odd.raw

for f in v3.qcow2 v2.qcow2 zlib.qcow2 zstd.qcow2 c512.qcow2 c2m.qcow2 \
  mixed.qcow2; do
  fmt=$("$IMGTOOL" info --json "$f" | grep '"format"' | head -1)
  [[ $fmt == *'"qcow2"'* ]] || die "$f not probed as qcow2: $fmt"
  pass
done

convert_and_check() {
  local src=$1 name=$2
  shift 2
  rm -f "$name"
  "$IMGTOOL" convert "$@" "$src" "$name" 2>"$WORK/conv.log" ||
    die "convert $* $src: $(cat "$WORK/conv.log")"
  same_image "$src" "$name"
  if [[ $name == *.qcow2 ]]; then
    clean_qcow2 "$name"
  fi
}

# Every output variant for the two main sources...
for src in src.raw v3.qcow2; do
  convert_and_check "$src" out.raw -O raw
  for cs in 4096 65536 2097152; do
    convert_and_check "$src" out.qcow2 -s "$cs"
    convert_and_check "$src" out.qcow2 -s "$cs" -c
    convert_and_check "$src" out.qcow2 -s "$cs" -c --compress-type zstd
  done
done
# Tiny clusters: many L2 tables and refcount blocks written mid-stream.
convert_and_check src.raw out.qcow2 -s 512
convert_and_check src.raw out.qcow2 -s 512 -c
convert_and_check v3.qcow2 out.qcow2 -s 1024 -c --compress-type zstd
# ...and a spread of them for the other sources.
for src in odd.raw v2.qcow2 zlib.qcow2 zstd.qcow2 c512.qcow2 c2m.qcow2 \
  mixed.qcow2; do
  convert_and_check "$src" out.raw -O raw
  convert_and_check "$src" out.qcow2
  convert_and_check "$src" out.qcow2 -s 2097152 -c
  convert_and_check "$src" out.qcow2 -s 4096 -c --compress-type zstd
done

# Compressed output really is compressed, zstd flagged as qemu expects.
rm -f z.qcow2
"$IMGTOOL" convert -c --compress-type zstd v3.qcow2 z.qcow2 2>/dev/null
info=$(qemu-img info z.qcow2)
[[ $info == *"compression type: zstd"* ]] || die "zstd not in header: $info"
pass
plain=$(stat -c %s out.raw)
packed=$(stat -c %s z.qcow2)
[[ $packed -lt 16000000 ]] || die "compressed output too big: $packed"
pass

# Zeros are never written: a raw output of a mostly empty disk is sparse,
# and a qcow2 output of an all-zero disk holds no data clusters.
truncate -s 1G empty.raw
rm -f empty.qcow2
"$IMGTOOL" convert empty.raw empty.qcow2 2>/dev/null
clean_qcow2 empty.qcow2
same_image empty.raw empty.qcow2
[[ $(stat -c %s empty.qcow2) -le 327680 ]] || die "empty.qcow2 too big"
pass
rm -f empty2.raw
"$IMGTOOL" convert -O raw empty.qcow2 empty2.raw 2>/dev/null
[[ $(stat -c %s empty2.raw) -eq 1073741824 ]] || die "raw size wrong"
[[ $(du -k empty2.raw | cut -f1) -lt 1024 ]] || die "raw output not sparse"
pass

# A zero-length disk.
: >zero.raw
rm -f zero.qcow2
"$IMGTOOL" convert zero.raw zero.qcow2 2>/dev/null
clean_qcow2 zero.qcow2
[[ $(qemu-img info --output=json zero.qcow2 | grep -c '"virtual-size": 0') \
  -eq 1 ]] || die "zero-size qcow2 has a size"
pass

# Progress ends with done == total.
rm -f out.qcow2
"$IMGTOOL" convert -p v3.qcow2 out.qcow2 2>progress.txt
last=$(grep '^progress ' progress.txt | tail -1)
[[ $last == "progress 67112448/67112448" ]] || die "progress: $last"
pass

# imgtool read returns guest bytes, chain and compression resolved.
got=$("$IMGTOOL" read --hex zstd.qcow2 $((50 * 1024 * 1024)) 4 | cut -d' ' -f2-)
[[ $got == "33 33 33 33" ]] || die "read at 50M: $got"
pass
got=$("$IMGTOOL" read --hex v3.qcow2 $((2 * 1024 * 1024)) 4 | cut -d' ' -f2-)
[[ $got == "00 00 00 00" ]] || die "read of zero cluster: $got"
pass
must_fail "past the virtual size" read v3.qcow2 $((64 * 1024 * 1024)) 8192

finish
