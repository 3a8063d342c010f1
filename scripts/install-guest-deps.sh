#!/bin/sh
# Install the Debian 12 packages needed to build and boot the end-to-end
# test guests (tests/guests/). Idempotent: only missing packages are
# installed. Needs root (or sudo).
#
#   mmdebstrap        builds the guest root file systems (no mounts, no chroot
#                     on the host beyond mmdebstrap's own)
#   libguestfs-tools  guestfish: partitions, LVM, mkfs, tar-in, grub-install
#                     inside the appliance (LIBGUESTFS_BACKEND=direct, TCG ok)
#   linux-image-amd64 the libguestfs appliance needs a host kernel in /boot
#   qemu-system-x86   boot checks (tests/guests/boot-check.sh), ipxe-qemu for
#                     the virtio-net option ROM, seabios for BIOS boot
#   qemu-utils        qemu-img (streamOptimized / monolithicSparse VMDK)
set -eu

GUEST_PKGS="mmdebstrap libguestfs-tools linux-image-amd64 qemu-system-x86
  qemu-utils ovmf python3 seabios ipxe-qemu debian-archive-keyring
  e2fsprogs tar coreutils"

missing=""
for p in $GUEST_PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
if [ -z "$missing" ]; then
  echo "install-guest-deps: all packages present"
  exit 0
fi
echo "install-guest-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
