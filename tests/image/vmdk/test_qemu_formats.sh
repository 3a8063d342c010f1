#!/bin/bash
# VMDK subformats written by qemu-img, converted by imgtool, compared with
# the source raw.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f raw src.raw 64M
qio src.raw raw 'write -P 0x5a 1M 64k' 'write -P 0xa5 10M 100k' \
  'write -P 0x11 63M 512' 'write -P 0x3c 65535 3' 'write -P 0xee 32M 1M'

for sub in monolithicSparse monolithicFlat twoGbMaxExtentSparse \
  twoGbMaxExtentFlat streamOptimized; do
  qemu-img convert -f raw -O vmdk -o subformat=$sub src.raw $sub.vmdk
  expect_same src.raw $sub.vmdk
  "$IMGTOOL" info $sub.vmdk | grep -qx "subformat: $sub" ||
    die "imgtool info does not report subformat $sub"
done

# The reader is not fooled: a changed byte in the source is noticed.
cp src.raw changed.raw
qio changed.raw raw 'write -P 0x01 10M 1'
out=$T/neg.qcow2
to_qcow2 monolithicSparse.vmdk "$out"
if qemu-img compare -q -f raw -F qcow2 changed.raw "$out"; then
  die "compare did not notice a changed byte"
fi
pass "a changed byte is detected"

# Larger than 2 GiB: several extent files, data across extent boundaries.
qemu-img create -q -f raw big.raw 5G
qio big.raw raw 'write -P 0x5a 0 64k' 'write -P 0x33 2047M 2M' \
  'write -P 0x77 4500M 300k' 'write -P 0x12 5119M 1M'
for sub in twoGbMaxExtentSparse twoGbMaxExtentFlat streamOptimized; do
  qemu-img convert -f raw -O vmdk -o subformat=$sub big.raw big-$sub.vmdk
  expect_same big.raw big-$sub.vmdk
done
[ "$(grep -c '^RW .* SPARSE ' big-twoGbMaxExtentSparse.vmdk)" -ge 3 ] ||
  die "twoGbMaxExtentSparse image has fewer than 3 extents"

# streamOptimized with the grain directory in a footer (GD_AT_END).
gen stream-footer streamOptimized.vmdk footer.vmdk
[ "$(rd64 footer.vmdk 56)" = 18446744073709551615 ] || die "footer patch"
expect_same src.raw footer.vmdk

# Hosted sparse with zeroed grains (GTE == 1) in a delta over data.
qemu-img convert -f raw -O vmdk src.raw zbase.vmdk
qemu-img create -q -f vmdk -o zeroed_grain=on -b zbase.vmdk -F vmdk zchild.vmdk
qio zchild.vmdk vmdk 'write -z 1M 64k' 'write -z 32M 128k' \
  'write -P 0x44 40M 64k'
qemu-img convert -O raw zchild.vmdk zexpected.raw
cmp -s src.raw zexpected.raw && die "zeroed grains did not change the disk"
expect_same zexpected.raw zchild.vmdk

echo "all $n_ok passed"
