#!/bin/bash
# Snapshot chains: hosted sparse deltas, parent resolution, CID checks,
# loops and missing parents.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f raw src.raw 64M
qio src.raw raw 'write -P 0x5a 0 1M' 'write -P 0xa5 10M 100k' \
  'write -P 0x11 63M 4k'
qemu-img convert -f raw -O vmdk src.raw base.vmdk

# Depth 4: each layer overwrites part of the one below, partial grains too.
prev=base.vmdk
i=0
for w in 'write -P 0x61 4k 4k' 'write -P 0x62 10M 8k' 'write -P 0x63 11M 64k' \
  'write -P 0x64 512 1k'; do
  i=$((i + 1))
  qemu-img create -q -f vmdk -b $prev -F vmdk s$i.vmdk
  qio s$i.vmdk vmdk "$w" "write -P 0x7$i $((i * 5))M 3k"
  prev=s$i.vmdk
done
qemu-img convert -O raw s4.vmdk chain-expected.raw
cmp -s src.raw chain-expected.raw && die "the chain did not change the disk"
expect_same chain-expected.raw s4.vmdk
expect_same src.raw base.vmdk

# A descriptor-based delta (twoGbMaxExtentSparse child) in a subdirectory
# with a relative parent path.
mkdir sub
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse \
  -b ../s2.vmdk -F vmdk sub/d.vmdk
qio sub/d.vmdk vmdk 'write -P 0x99 30M 70k'
qemu-img convert -O raw sub/d.vmdk d-expected.raw
expect_same d-expected.raw sub/d.vmdk

# The parent changed after the child was made: CID mismatch.
cp base.vmdk mbase.vmdk
qemu-img create -q -f vmdk -b mbase.vmdk -F vmdk mchild.vmdk
expect_same src.raw mchild.vmdk
qio mbase.vmdk vmdk 'write -P 0x01 0 512'
expect_fail mchild.vmdk "CID mismatch" mchild.vmdk mbase.vmdk

# Missing parent.
cp base.vmdk gone.vmdk
qemu-img create -q -f vmdk -b gone.vmdk -F vmdk orphan.vmdk
rm gone.vmdk
expect_fail orphan.vmdk gone.vmdk

# A parent pointing at itself, and a two-descriptor loop.
truncate -s 1M loop-flat.vmdk
mkdesc() { # mkdesc NAME PARENT
  printf '# Disk DescriptorFile\nversion=1\nCID=00000001\nparentCID=00000001\n' >$1
  printf 'createType="monolithicFlat"\nparentFileNameHint="%s"\n' "$2" >>$1
  printf 'RW 2048 FLAT "loop-flat.vmdk" 0\n' >>$1
}
mkdesc self.vmdk self.vmdk
expect_fail self.vmdk self.vmdk "loop"
mkdesc la.vmdk lb.vmdk
mkdesc lb.vmdk la.vmdk
expect_fail la.vmdk la.vmdk lb.vmdk "loop"

echo "all $n_ok passed"
