#!/bin/bash
# VHDX fixed and dynamic images made by qemu-img: convert and compare.
. "$(dirname "$0")/lib.sh"

patterns=(-c 'write -P 0x5a 1M 64k' -c 'write -P 0xa5 7M 3M'
          -c 'write -z 40M 2M' -c 'write -P 0x33 95M 1M')
for opts in "block_size=1M" "block_size=32M" "subformat=fixed,block_size=1M" \
            "subformat=fixed,block_size=32M" "block_size=8M,log_size=4M" \
            "block_size=1M,block_state_zero=off"; do
  name="x-${opts//[=,]/_}.vhdx"
  qemu-img create -q -f vhdx -o "$opts" "$name" 96M
  qio vhdx "$name" "${patterns[@]}"
  convert_check vhdx "$name"
  info_has "$name" 100663296
done
info_has x-block_size_1M.vhdx '"dynamic"'

# A size that is not a multiple of the block size; 4 KiB logical sectors
# are not made by qemu, so only 512 here.
qemu-img create -q -f vhdx -o block_size=1M odd.vhdx 12345k
qio vhdx odd.vhdx -c 'write -P 0x77 12000k 345k'
convert_check vhdx odd.vhdx

# Header 1 damaged: header 2 (or the other) still opens the image.
qemu-img create -q -f vhdx -o block_size=1M h.vhdx 16M
qio vhdx h.vhdx -c 'write -P 0x44 0 1M'
mkvhd poke h.vhdx 65536 00000000
convert_check vhdx h.vhdx
mkvhd poke h.vhdx 131072 00000000
expect_fail "VHDX header 1 at offset 65536" "$IMGTOOL" info h.vhdx

# Region table 1 damaged: table 2 is used (qemu reads only table 1, so
# its view of the intact image is the oracle).
qemu-img create -q -f vhdx -o block_size=1M r.vhdx 16M
qio vhdx r.vhdx -c 'write -P 0x45 3M 1M'
qemu-img convert -f vhdx -O raw r.vhdx r.want
mkvhd poke r.vhdx $((192 * 1024 + 100)) ff
expect_compare r.vhdx r.want
finish
