#!/bin/bash
# Differencing VHD chains (depth 3) crafted over a qemu-img base; the
# generator also writes the expected flattened raw: the oracle.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f vpc base.vhd 20M
qio vpc base.vhd -c 'write -P 0x11 0 6M' -c 'write -P 0x12 10M 1M'
qemu-img convert -f vpc -O raw base.vhd base.raw

mkvhd vhd-diff base.vhd c1.vhd --write 1M:8k:0x21 --write 4M:2M:0x22 \
  --write 12M+512:1024:0x23 --expect-in base.raw --expect-out c1.raw
# c2 has only absolute + unicode-name locators (the name is the fallback).
mkvhd vhd-diff c1.vhd c2.vhd --write 1M+4k:8k:0x31 --write 15M:3M:0x32 \
  --expect-in c1.raw --expect-out c2.raw --no-relative
mkvhd vhd-diff c2.vhd c3.vhd --write 0:512:0x41 --write 19M:1M:0x42 \
  --write 6M:4M:0x43 --block-size 512k --expect-in c2.raw --expect-out c3.raw

expect_compare c1.vhd c1.raw
expect_compare c2.vhd c2.raw
expect_compare c3.vhd c3.raw
info_has c3.vhd '"differencing"'
info_has c3.vhd 'c2.vhd'

# Parent in a subdirectory, found through the relative locator.
mkdir sub
cp base.vhd sub/pbase.vhd
mkvhd vhd-diff sub/pbase.vhd s1.vhd --locator sub/pbase.vhd \
  --write 2M:4k:0x51 --expect-in base.raw --expect-out s1.raw
expect_compare s1.vhd s1.raw

# Missing parent.
mv c1.vhd c1.moved
expect_fail "parent 'c1.vhd' of differencing VHD not found" "$IMGTOOL" info c3.vhd
mv c1.moved c1.vhd

# Parent replaced by another VHD (different unique ID).
cp c1.vhd c1.orig
mkvhd vhd-set c1.vhd uuid 01234567-89ab-cdef-0123-456789abcdef
expect_fail "expects" "$IMGTOOL" convert -O raw c2.vhd out.raw
cp c1.orig c1.vhd

# Parent loop: a child naming itself as its parent.
mkvhd vhd-diff base.vhd loop.vhd --locator loop.vhd --write 0:512:1
expect_fail "loop" "$IMGTOOL" info loop.vhd
finish
