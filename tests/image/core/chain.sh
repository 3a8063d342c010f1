#!/bin/bash
# Backing chains: raw <- qcow2 (v2) <- qcow2 (zlib-compressed data) <- qcow2
# with zero clusters hiding backing data, a backing file smaller than its
# child, relative and absolute backing names, and a backing format hint.
source "$(dirname "$0")/common.sh"
cd "$WORK"

truncate -s 32M base.raw
qemu-io -f raw -c 'write -P 0x11 0 8M' -c 'write -P 0x12 30M 2M' base.raw \
  >/dev/null

qemu-img create -q -f qcow2 -o compat=0.10 -b base.raw -F raw l1.qcow2 48M
qio l1.qcow2 'write -P 0x21 1M 1M' 'write -P 0x22 40M 1M'

# l2: compressed data written through a temporary image, then rebased.
qemu-img create -q -f qcow2 tmp.qcow2 64M
qio tmp.qcow2 'write -P 0x31 2M 512k' 'write -P 0x32 60M 1M'
qemu-img convert -c -O qcow2 tmp.qcow2 l2.qcow2
qemu-img rebase -q -u -b l1.qcow2 -F qcow2 l2.qcow2

qemu-img create -q -f qcow2 -b "$WORK/l2.qcow2" -F qcow2 top.qcow2 64M
qio top.qcow2 'write -z 0 512k' 'write -z 2M 256k' 'write -P 0x41 7M 64k' \
  'write -z 30M 1M'

# Depth reported by info: 4 layers, top first.
"$IMGTOOL" info --json top.qcow2 >info.json
[[ $(grep -c '"filename"' info.json) -eq 4 ]] || die "chain: $(cat info.json)"
pass
grep -q '"backing-filename-format": *"raw"' info.json || die "no raw hint"
pass
"$IMGTOOL" info top.qcow2 >info.txt
[[ $(grep -c '^image: ' info.txt) -eq 4 ]] || die "text chain: $(cat info.txt)"
pass
grep -q "^file format: raw" info.txt || die "no raw layer in info"
pass

# Guest bytes from each layer, chain resolved.
expect_byte() {
  local img=$1 off=$2 want=$3 got
  got=$("$IMGTOOL" read --hex "$img" "$off" 1 | cut -d' ' -f2)
  [[ $got == "$want" ]] || die "$img @$off: got $got want $want"
  pass
}
M=$((1024 * 1024))
expect_byte top.qcow2 0 00             # zero cluster hides base data
expect_byte top.qcow2 $((512 * 1024)) 11 # base shows through
expect_byte top.qcow2 $((1 * M)) 21     # l1
expect_byte top.qcow2 $((2 * M)) 00     # zero over compressed l2 data
expect_byte top.qcow2 $((2 * M + 256 * 1024)) 31
expect_byte top.qcow2 $((7 * M)) 41
expect_byte top.qcow2 $((30 * M)) 00
expect_byte top.qcow2 $((31 * M)) 12
expect_byte top.qcow2 $((40 * M)) 22     # past the raw base's end
expect_byte top.qcow2 $((50 * M)) 00     # past l1's end too
expect_byte top.qcow2 $((60 * M)) 32

for args in "-O raw" "" "-c" "-c --compress-type zstd" "-s 4096" \
  "-s 2097152 -c"; do
  rm -f out
  # shellcheck disable=SC2086
  "$IMGTOOL" convert $args top.qcow2 out 2>conv.log ||
    die "convert $args: $(cat conv.log)"
  same_image top.qcow2 out
  if [[ $args != "-O raw" ]]; then
    clean_qcow2 out
    qemu-img info out | grep -q "backing file" && die "output has a backing"
    pass
  fi
done

# Converting a middle layer only sees the layers below it.
rm -f mid.qcow2
"$IMGTOOL" convert l1.qcow2 mid.qcow2 2>/dev/null
same_image l1.qcow2 mid.qcow2

# A deep chain (depth 12) of tiny layers.
qemu-img create -q -f qcow2 d0.qcow2 4M
qio d0.qcow2 'write -P 0x01 0 64k'
for i in $(seq 1 12); do
  qemu-img create -q -f qcow2 -b "d$((i - 1)).qcow2" -F qcow2 "d$i.qcow2" 4M
  qio "d$i.qcow2" "write -P $i $((i * 65536)) 64k"
done
rm -f deep.qcow2
"$IMGTOOL" convert d12.qcow2 deep.qcow2 2>/dev/null
same_image d12.qcow2 deep.qcow2
clean_qcow2 deep.qcow2

finish
