#!/bin/sh
# Install the Debian 12 packages hyper2kvm needs to build and test.
# Idempotent: only missing packages are installed. Needs root (or sudo).
set -eu

BUILD_PKGS="gcc clang meson ninja-build pkg-config make clang-format
  libyaml-dev libjson-c-dev libssl-dev zlib1g-dev libzstd-dev libxml2-dev
  libcmocka-dev liblzma-dev libvirt-dev"
TEST_PKGS="qemu-utils python3 fdisk libvirt-clients python3-jsonschema time"
# libFuzzer runtime for tests/fuzz (clang -fsanitize=fuzzer)
FUZZ_PKGS="libclang-rt-14-dev"

want="$BUILD_PKGS $TEST_PKGS $FUZZ_PKGS"
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
