#!/bin/bash
# Damaged and hostile VMDKs must fail cleanly, with a message naming the
# file and what is wrong.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f raw src.raw 64M
qio src.raw raw 'write -P 0x5a 1M 64k' 'write -P 0xa5 10M 100k'
qemu-img convert -f raw -O vmdk src.raw good.vmdk
expect_same src.raw good.vmdk

fresh() { cp good.vmdk "$1"; }
gd=$(($(rd64 good.vmdk 56) * 512))  # primary grain directory
rgd=$(($(rd64 good.vmdk 48) * 512)) # redundant grain directory
gt=$(($(rd32 good.vmdk $gd) * 512)) # first grain table

# Truncated file: grain tables or grains past the end.
fresh trunc.vmdk
truncate -s $((gt + 2048 + 4096)) trunc.vmdk
expect_fail trunc.vmdk trunc.vmdk "past the end of the file"
fresh trunc2.vmdk
truncate -s 1024 trunc2.vmdk
expect_fail trunc2.vmdk trunc2.vmdk "past the end"

# Primary grain directory damaged: the redundant copy is used.
fresh rgd.vmdk
gen patch rgd.vmdk $gd I 0x7fffffff
expect_same src.raw rgd.vmdk
# Both damaged: the error names the entry.
gen patch rgd.vmdk $rgd I 0x7ffffff0
expect_fail rgd.vmdk rgd.vmdk "grain directory entry 0" "past the end"

# Grain table entry past the end (grain 16 = the data at 1 MiB).
fresh gte.vmdk
gen patch gte.vmdk $((gt + 16 * 4)) I 0x7fffffff
expect_fail gte.vmdk gte.vmdk "grain 16" "past the end of the file"

# Absurd header fields.
fresh cap.vmdk
gen patch cap.vmdk 12 Q 0x4000000000000
expect_fail cap.vmdk cap.vmdk "capacity" "64 TiB"
fresh grain3.vmdk
gen patch grain3.vmdk 20 Q 3
expect_fail grain3.vmdk grain3.vmdk "grain size" "power of two"
fresh grainbig.vmdk
gen patch grainbig.vmdk 20 Q 0x100000
expect_fail grainbig.vmdk "grain size"
fresh gtes.vmdk
gen patch gtes.vmdk 44 I 0
expect_fail gtes.vmdk "entries per grain table"
fresh nl.vmdk
gen patch nl.vmdk 75 B 0x0a
expect_fail nl.vmdk "text-mode"
fresh desc.vmdk
gen patch desc.vmdk 28 Q 0x10000000
expect_fail desc.vmdk "embedded descriptor"

# Compressed grains: a bad marker, and bytes that do not inflate.
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized src.raw so.vmdk
so_gd=$(($(rd64 so.vmdk 56) * 512))
so_gt=$(($(rd32 so.vmdk $so_gd) * 512))
grain=$(($(rd32 so.vmdk $((so_gt + 16 * 4))) * 512))
cp so.vmdk so-lba.vmdk
gen patch so-lba.vmdk $grain Q 7
expect_fail so-lba.vmdk so-lba.vmdk "compressed grain 16" "bad marker"
cp so.vmdk so-z.vmdk
gen patch so-z.vmdk $((grain + 12)) Q 0x123456789abcdef
expect_fail so-z.vmdk "compressed grain 16" "inflate"
cp so.vmdk so-nofooter.vmdk
gen patch so-nofooter.vmdk 56 Q 0xffffffffffffffff
expect_fail so-nofooter.vmdk "no valid footer"

# Descriptors: missing extent, short flat extent, garbage, bad createType,
# extents not matching the declared size.
qemu-img convert -f raw -O vmdk -o subformat=monolithicFlat src.raw flat.vmdk
mv flat-flat.vmdk moved-flat.vmdk
expect_fail flat.vmdk flat.vmdk flat-flat.vmdk "No such file"
mv moved-flat.vmdk flat-flat.vmdk
truncate -s 32M flat-flat.vmdk
expect_fail flat.vmdk flat.vmdk "truncated"
printf '# Disk DescriptorFile\ncreateType="monolithicFlat"\nhello there\n' >junk.vmdk
expect_fail junk.vmdk junk.vmdk "line 3" "not a descriptor line"
printf '# Disk DescriptorFile\ncreateType="hyperSparse"\nRW 8 FLAT "x" 0\n' >ct.vmdk
expect_fail ct.vmdk "unknown createType" hyperSparse
printf '# Disk DescriptorFile\ncreateType="monolithicFlat"\nRW 8 FLAT "/dev/null" 0\nRW 8 FROB "a" 0\n' >et.vmdk
expect_fail et.vmdk "line 4" "unknown extent type"
# A sparse extent pointing at the descriptor itself is not a sparse file.
printf '# Disk DescriptorFile\ncreateType="twoGbMaxExtentSparse"\nRW 8 SPARSE "selfext.vmdk"\n' >selfext.vmdk
expect_fail selfext.vmdk "no KDMV magic"
# Embedded descriptor extents disagree with the header capacity.
fresh size.vmdk
sed -i 's/^RW 131072 SPARSE/RW 131071 SPARSE/' size.vmdk
expect_fail size.vmdk "131071" "capacity"

# Crafted ESXi formats with bad tables.
gen cowd cowd
gen patch cowd/delta-delta.vmdk 20 I 0x7fffff00
expect_fail cowd/delta.vmdk delta-delta.vmdk "grain directory" "past the end"
gen cowd cowd2
gen patch cowd2/delta-delta.vmdk 16 I 6
expect_fail cowd2/delta.vmdk "COWD grain size"
gen sesparse se
gen patch se/se-sesparse.vmdk $((4 * 512)) Q 0x2000000000000000
expect_fail se/se.vmdk "seSparse grain directory entry 0" "invalid"
gen sesparse se2
gen patch se2/se-sesparse.vmdk $((512 + 24)) Q 1
expect_fail se2/se.vmdk "journal needs replay"
gen sesparse se3
gen patch se3/se-sesparse.vmdk $((8 * 512 + 64 * 512)) Q 0x3000000000000fff
expect_fail se3/se.vmdk "outside the grain area"

echo "all $n_ok passed"
