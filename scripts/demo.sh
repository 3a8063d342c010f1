#!/bin/bash
# `make demo`: build a sample VMware-style VM disk once (cached), then run
# the main job on it and show the result.
# The sample: a 1 GiB monolithicSparse VMDK with an MBR partition table and
# data, plus a snapshot delta on top (web01-000001.vmdk), as VMware leaves
# them after a snapshot.
set -euo pipefail
B=${1:-build}
H2K="$(cd "$(dirname "$0")/.." && pwd)/$B/src/hyper2kvm"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/hyper2kvm-demo"
OUT="${DEMO_OUT:-$PWD/demo-out}"
mkdir -p "$CACHE"
if [ ! -f "$CACHE/web01-000001.vmdk" ]; then
  echo "demo: building the sample VM disk in $CACHE (once)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  qemu-img create -q -f raw "$tmp/disk.raw" 1G
  printf 'label: dos\n,512M,L,*\n,,L\n' | sfdisk -q "$tmp/disk.raw" >/dev/null
  qemu-io -f raw -c 'write -P 0x45 1M 16M' -c 'write -P 0x78 600M 8M' "$tmp/disk.raw" >/dev/null
  qemu-img convert -q -f raw -O vmdk -o subformat=monolithicSparse "$tmp/disk.raw" "$CACHE/web01.vmdk"
  qemu-img create -q -f vmdk -b web01.vmdk -F vmdk "$CACHE/web01-000001.vmdk"
  qemu-io -f vmdk -c 'write -P 0x99 4M 2M' "$CACHE/web01-000001.vmdk" >/dev/null
fi
echo "demo: sample source (a base disk and a snapshot delta):"
"$H2K" info "$CACHE/web01-000001.vmdk"
echo
echo "demo: converting with: hyper2kvm local $CACHE/web01-000001.vmdk --vm-name web01 --output-dir $OUT"
"$H2K" local "$CACHE/web01-000001.vmdk" --vm-name web01 --output-dir "$OUT" --checksum
echo
qemu-img compare -q "$CACHE/web01-000001.vmdk" "$OUT/web01/web01.qcow2" &&
  echo "demo: qemu-img compare: the qcow2 holds exactly what the VM saw (snapshot flattened)"
echo "demo: result in $OUT/web01/:"
ls -l "$OUT/web01/"
