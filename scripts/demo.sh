#!/bin/bash
# `make demo`: convert a real VMware-style guest end to end and show where
# the result is.
# The sample: a Debian 12 VM as a VMware exporter leaves it (OVA with a
# streamOptimized VMDK: root=/dev/sda1, by-path swap, an initramfs without
# virtio, ens192 pinned to a VMware MAC, open-vm-tools), built once from
# Debian packages by tests/guests/build-guests.sh and cached outside the
# repository. The conversion inspects and fixes it, converts it to qcow2 and
# boots the result once under QEMU (virtio disk, a NIC with a new MAC, user
# networking that reaches nothing outside) to prove it boots and asks for an
# address.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
B=${1:-build}
H2K="$ROOT/$B/src/hyper2kvm"
CACHE="${H2K_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hyper2kvm-test-guests}"
OUT="${DEMO_OUT:-$PWD/demo-out}"
OVA="$CACHE/debian12-vmware/debian12-vmware.ova"

echo "demo: preparing the sample VM (built once, then cached in $CACHE)"
H2K_GUEST_CACHE="$CACHE" "$ROOT/tests/guests/build-guests.sh" | tail -3
echo
echo "demo: hyper2kvm ova $OVA --output-dir $OUT"
"$H2K" ova "$OVA" --output-dir "$OUT"
echo
R="$OUT/debian12-vmware"
echo "demo: what was changed in the guest and how the boot check went:"
sed -n '/^## Plan/,$p' "$R/report.md"
echo
echo "demo: the converted VM is in $R:"
ls -l "$R"
echo "demo: run it with: virsh define $R/domain.xml (its disk: $R/debian12-vmware.qcow2)"
