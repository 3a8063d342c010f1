#!/bin/bash
# Differencing VHDX chains (depth 3) crafted over a qemu-img base; the
# generator also writes the expected flattened raw: the oracle.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f vhdx -o block_size=1M base.vhdx 20M
qio vhdx base.vhdx -c 'write -P 0x11 0 6M' -c 'write -P 0x12 10M 1M'
qemu-img convert -f vhdx -O raw base.vhdx base.raw

mkvhd vhdx-diff base.vhdx x1.vhdx --write 1M:8k:0x21 --write 4M:2M:0x22 \
  --write 12M+512:1024:0x23 --zero-block 10 --expect-in base.raw \
  --expect-out x1.raw
mkvhd vhdx-diff x1.vhdx x2.vhdx --write 1M+4k:8k:0x31 --write 15M:3M:0x32 \
  --zero-block 0 --block-size 2M --expect-in x1.raw --expect-out x2.raw
mkvhd vhdx-diff x2.vhdx x3.vhdx --write 0:512:0x41 --write 19M:1M:0x42 \
  --write 5M+512:3M:0x43 --block-size 32M --expect-in x2.raw \
  --expect-out x3.raw

expect_compare x1.vhdx x1.raw
expect_compare x2.vhdx x2.raw
expect_compare x3.vhdx x3.raw
info_has x3.vhdx '"differencing"'
info_has x3.vhdx 'x2.vhdx'

# Missing parent.
mv x1.vhdx x1.moved
expect_fail "parent '.\\x1.vhdx' of differencing VHDX not found" "$IMGTOOL" info x3.vhdx
mv x1.moved x1.vhdx

# Parent modified after the child was made: its data write GUID changed.
cp base.vhdx base.orig
qio vhdx base.vhdx -c 'write -P 0x99 0 512'
expect_fail "parent_linkage" "$IMGTOOL" convert -O raw x1.vhdx out.raw
cp base.orig base.vhdx

# Parent loop.
mkvhd vhdx-diff base.vhdx loop.vhdx --locator loop.vhdx --write 0:512:1
expect_fail "loop" "$IMGTOOL" info loop.vhdx
finish
