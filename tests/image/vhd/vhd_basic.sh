#!/bin/bash
# VHD fixed and dynamic images made by qemu-img: convert and compare.
. "$(dirname "$0")/lib.sh"

patterns=(-c 'write -P 0x5a 1M 64k' -c 'write -P 0xa5 7M 3M'
          -c 'write -z 8M 512k' -c 'write -P 0x33 63M 1M')
for opts in "" "force_size=on" "subformat=fixed" "subformat=fixed,force_size=on"; do
  name="d-${opts//[=,]/_}.vhd"
  qemu-img create -q -f vpc ${opts:+-o $opts} "$name" 64M
  qio vpc "$name" "${patterns[@]}"
  convert_check vpc "$name"
  # The virtual size must be exactly qemu's (CHS vs size-field rules).
  want=$(qemu-img info -f vpc --output=json "$name" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
  info_has "$name" "$want"
done
info_has d-.vhd '"dynamic"'
info_has d-subformat_fixed.vhd '"fixed"'

# An empty dynamic image and an odd size (not a CHS multiple).
qemu-img create -q -f vpc empty.vhd 10M
convert_check vpc empty.vhd
qemu-img create -q -f vpc odd.vhd 12345k
qio vpc odd.vhd -c 'write -P 0x77 0 4k'
convert_check vpc odd.vhd

# Reads straddling block boundaries match qemu-io's reads.
"$IMGTOOL" read d-.vhd $((7 * 1048576 - 512)) 4096 > part.bin
qemu-img dd -f vpc -O raw if=d-.vhd of=full.raw bs=1M 2>/dev/null ||
  qemu-img convert -f vpc -O raw d-.vhd full.raw
dd if=full.raw of=want.bin bs=512 skip=$((7 * 2048 - 1)) count=8 status=none
cmp -s part.bin want.bin || fail "imgtool read differs across a block boundary"
ok "read across a block boundary"

# A dynamic VHD with a sparse bitmap: clear the bitmap bits of sectors 4-7
# (bits are MSB first) and of the second half of an allocated block: those
# sectors must read as zeros.
qemu-img create -q -f vpc bm.vhd 8M
qio vpc bm.vhd -c 'write -P 0x66 0 2M'
qemu-img convert -f vpc -O raw bm.vhd bm.raw
bat=$(python3 -c 'import struct;d=open("bm.vhd","rb").read();print(struct.unpack_from(">Q",d,512+16)[0])')
blk=$(python3 -c "import struct;d=open('bm.vhd','rb').read();print(struct.unpack_from('>I',d,$bat)[0]*512)")
mkvhd poke bm.vhd $((blk + 256)) "$(printf '00%.0s' $(seq 256))"
mkvhd poke bm.vhd "$blk" f0
python3 - <<'PY'
d = bytearray(open("bm.raw", "rb").read())
d[1 << 20:2 << 20] = bytes(1 << 20)
d[4 * 512:8 * 512] = bytes(4 * 512)
open("bm-want.raw", "wb").write(d)
PY
expect_compare bm.vhd bm-want.raw
finish
