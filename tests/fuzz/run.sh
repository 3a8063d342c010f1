#!/bin/bash
# Build the libFuzzer harnesses with clang + ASan/UBSan and run each for a
# short while (FUZZ_SECONDS, default 30) from seeds made with qemu-img.
# Fails on any crash, leak, timeout or sanitizer report.
set -euo pipefail
B=${1:-build-fuzz}
SECS=${FUZZ_SECONDS:-30}
cd "$(dirname "$0")/../.."
if [ ! -f "$B/build.ninja" ]; then
  CC=clang meson setup "$B" -Dfuzzing=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debugoptimized \
    -Dc_args='-fsanitize=fuzzer-no-link' >/dev/null
fi
ninja -C "$B" > "$B/ninja.log" 2>&1 || { cat "$B/ninja.log" >&2; exit 1; }
S="$B/fuzz-seeds"
rm -rf "$S"
mkdir -p "$S"/{qcow2,vmdk,vpc,vhdx,config,tar,initrd}
raw="$S/seed.raw"
qemu-img create -q -f raw "$raw" 2M
qemu-io -f raw -c 'write -P 0x5a 0 64k' -c 'write -P 0x33 1M 8k' "$raw" >/dev/null
qemu-img convert -q -f raw -O qcow2 "$raw" "$S/qcow2/plain.qcow2"
qemu-img convert -q -c -f raw -O qcow2 "$raw" "$S/qcow2/zlib.qcow2"
qemu-img convert -q -c -f raw -O qcow2 -o compression_type=zstd "$raw" "$S/qcow2/zstd.qcow2"
qemu-img convert -q -f raw -O qcow2 -o compat=0.10 "$raw" "$S/qcow2/v2.qcow2"
for sub in monolithicSparse streamOptimized; do
  qemu-img convert -q -f raw -O vmdk -o subformat=$sub "$raw" "$S/vmdk/$sub.vmdk"
done
printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW 4096 FLAT "x-flat.vmdk" 0\n' > "$S/vmdk/desc.vmdk"
qemu-img convert -q -f raw -O vpc -o subformat=dynamic "$raw" "$S/vpc/dynamic.vhd"
qemu-img convert -q -f raw -O vpc -o subformat=fixed "$raw" "$S/vpc/fixed.vhd"
qemu-img convert -q -f raw -O vhdx -o subformat=dynamic,block_size=1M "$raw" "$S/vhdx/dynamic.vhdx"
cp examples/*.yaml "$S/config/"
printf '<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>\n' > "$S/x.ovf"
tar -cf "$S/tar/min.ova" -C "$S" x.ovf
cp "$S/vmdk/streamOptimized.vmdk" "$S/d.vmdk"
tar -cf "$S/tar/disk.tar" -C "$S" d.vmdk
rm -f "$S/x.ovf" "$S/d.vmdk"
# initramfs images: an early cpio, a small main cpio, compressed each way
t="$S/initrd-tree"
mkdir -p "$t/early/kernel/x86/microcode" "$t/main/usr/lib/modules/6.1.0/kernel/drivers/block" "$t/main/bin"
printf 'ucode' > "$t/early/kernel/x86/microcode/GenuineIntel.bin"
printf 'fake module\n' > "$t/main/usr/lib/modules/6.1.0/kernel/drivers/block/virtio_blk.ko"
: > "$t/main/bin/empty"
ln -s empty "$t/main/bin/sh"
(cd "$t/early" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$t/early.cpio"
(cd "$t/main" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$t/main.cpio"
cp "$t/main.cpio" "$S/initrd/plain.cpio"
gzip -n -c "$t/main.cpio" > "$S/initrd/main.gz"
zstd -q -c "$t/main.cpio" > "$S/initrd/main.zst"
xz -q -c --check=crc32 "$t/main.cpio" > "$S/initrd/main.xz"
xz -q -c --format=lzma "$t/main.cpio" > "$S/initrd/main.lzma"
{ cat "$t/early.cpio"; zstd -q -c "$t/main.cpio"; } > "$S/initrd/early-zstd.img"
rm -rf "$t"
rm -f "$raw"
status=0
for h in qcow2 vmdk vpc vhdx config tar initrd; do
  exe="$B/tests/fuzz/fuzz_$h"
  corpus="$B/fuzz-corpus/$h"
  mkdir -p "$corpus"
  echo "fuzz: $h for ${SECS}s"
  if ! "$exe" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
      -max_len=1048576 -print_final_stats=0 "$corpus" "$S/$h" \
      > "$B/fuzz-$h.log" 2>&1; then
    echo "fuzz: $h FAILED (see $B/fuzz-$h.log; crash inputs in $(pwd))" >&2
    tail -40 "$B/fuzz-$h.log" >&2
    status=1
  else
    grep -E '^#[0-9]+.*DONE' "$B/fuzz-$h.log" | tail -1 || true
  fi
done
exit $status
