#!/bin/bash
# Images qemu-img cannot write, crafted by gen_vmdk.py, against the expected
# raw the generator builds independently: VMFS flat, vmfsThin, ZERO extents,
# COWD (VMFSSPARSE) and SESPARSE deltas over a flat base.
. "$(dirname "$0")/lib.sh"

check_kind() { # check_kind KIND TOP-DESCRIPTOR
  gen "$1" "$1"
  expect_same "$1/expected.raw" "$1/$2"
}

check_kind vmfs base.vmdk
check_kind vmfsthin thin.vmdk
check_kind zero zero.vmdk
check_kind cowd delta.vmdk
check_kind cowd1 delta.vmdk
check_kind sesparse se.vmdk

# The base alone reads as the base (the deltas really changed something).
gen vmfs plain
cmp -s plain/expected.raw cowd/expected.raw && die "cowd delta is empty"
cmp -s plain/expected.raw sesparse/expected.raw && die "sesparse delta is empty"
expect_same plain/expected.raw cowd/base.vmdk

# Deltas check their parent's CID.
sed -i 's/^CID=11111111/CID=11111112/' cowd/base.vmdk
expect_fail cowd/delta.vmdk "CID mismatch" 11111111 11111112
sed -i 's/^CID=11111111/CID=0badf00d/' sesparse/base.vmdk
expect_fail sesparse/se.vmdk "CID mismatch"

echo "all $n_ok passed"
