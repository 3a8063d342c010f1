#!/bin/sh
# Install the Debian 12 packages hyper2kvm needs to build and test.
# Idempotent: only missing packages are installed. Needs root (or sudo).
#   install-deps.sh            build + test packages (make check, make demo)
#   install-deps.sh --guests   also what the end-to-end guests need
#                              (make check-guests): mmdebstrap builds the guest
#                              trees, libguestfs-tools (with a host kernel in
#                              /boot for its appliance) partitions and installs
#                              grub in them, qemu-system-x86 boots them.
set -eu

BUILD_PKGS="gcc clang meson ninja-build pkg-config make clang-format
  libyaml-dev libjson-c-dev libssl-dev zlib1g-dev libzstd-dev libxml2-dev
  libcmocka-dev liblzma-dev libvirt-dev libguestfs-dev"
TEST_PKGS="qemu-utils python3 fdisk libvirt-clients python3-jsonschema time
  xz-utils cpio gzip zstd bzip2 initramfs-tools-core"
# libFuzzer runtime for tests/fuzz (clang -fsanitize=fuzzer)
FUZZ_PKGS="libclang-rt-14-dev"
GUEST_PKGS="mmdebstrap libguestfs-tools linux-image-amd64 qemu-system-x86
  ovmf seabios ipxe-qemu debian-archive-keyring e2fsprogs tar coreutils
  mount dpkg-dev"

want="$BUILD_PKGS $TEST_PKGS $FUZZ_PKGS"
if [ "${1:-}" = "--guests" ]; then
  want="$want $GUEST_PKGS"
fi
missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
if [ -z "$missing" ]; then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
