#!/bin/bash
# guest-starting-point: build (or reuse) the end-to-end test guests and prove
# the state hyper2kvm starts from, before any conversion:
#   * the packages are what a vSphere export / a VMX directory look like
#   * debian12-vmware boots to a login prompt on SATA (AHCI) under QEMU,
#     without network (ens192 pinned to the VMware MAC)
#   * debian12-vmware does NOT boot on virtio-blk: its initramfs has no
#     virtio driver, so /dev/sda1 never appears
#   * debian12-lvm-networkd boots to a login prompt on SATA, without network
#     (the .network file matches the VMware MAC)
# Timings of the builds (as found and cached) and of each boot are printed.
#
# Needs root, loop devices and scripts/install-deps.sh --guests; exits 77
# (skip) otherwise, 1 with H2K_REQUIRE_GUESTS=1.
# Environment: H2K_GUEST_CACHE (see build-guests.sh), H2K_GUEST_BOOT_TIMEOUT
# (default 600 s per boot), H2K_SKIP_GUEST_TESTS=1 to skip.
# shellcheck disable=SC2016,SC2034 # the eval'd checks expand variables late
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${H2K_GUEST_CACHE:-$HOME/.cache/hyper2kvm-test-guests}"
BT="${H2K_GUEST_BOOT_TIMEOUT:-600}"

# `make check-guests` sets H2K_REQUIRE_GUESTS=1: there a missing tool or
# privilege is a failure, never a silent skip.
skip() {
  if [ "${H2K_REQUIRE_GUESTS:-0}" = 1 ]; then
    echo "FAIL (required): $*"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}
[ -n "${H2K_SKIP_GUEST_TESTS:-}" ] && skip "H2K_SKIP_GUEST_TESTS is set"
[ "$(id -u)" = 0 ] || skip "needs root"
for t in mmdebstrap mke2fs sfdisk losetup qemu-img qemu-system-x86_64 python3; do
  command -v "$t" >/dev/null || skip "$t missing (scripts/install-deps.sh --guests)"
done

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
nok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { # DESC CMD... (CMD runs in the caller's variables: no locals here)
  __desc="$1"; shift
  if "$@"; then ok "$__desc"; else nok "$__desc"; fi
}

LOGS="$(mktemp -d /var/tmp/h2k-guest-test.XXXXXX)"
trap 'if [ "$fail" = 0 ]; then rm -rf "$LOGS"; else echo "# logs kept in $LOGS"; fi' EXIT

timings=()

# --- build (first: whatever state the cache is in) and cached ---------------
t0=$(date +%s)
if "$HERE/build-guests.sh" >"$LOGS/build1.log" 2>&1; then
  t1=$(date +%s)
  if grep -q 'all guests cached' "$LOGS/build1.log"; then how=cached; else how=built; fi
  ok "build-guests.sh ($how, $((t1 - t0)) s)"
  timings+=("build (first call, $how): $((t1 - t0)) s")
else
  nok "build-guests.sh"; tail -30 "$LOGS/build1.log" | sed 's/^/# /'
  echo "$pass passed, $fail failed"; exit 1
fi
t0=$(date +%s)
"$HERE/build-guests.sh" >"$LOGS/build2.log" 2>&1
rc=$?
t1=$(date +%s)
check "build-guests.sh second call reuses the cache ($((t1 - t0)) s)" \
  eval '[ $rc = 0 ] && grep -q "all guests cached" "$LOGS/build2.log"'
timings+=("build (second call, cached): $((t1 - t0)) s")

# --- packaging ---------------------------------------------------------------
for g in debian12-vmware debian12-lvm-networkd; do
  d="$CACHE/$g"
  ova="$d/$g.ova"
  check "$g: OVA lists the .ovf first" \
    eval '[ "$(tar tf "$ova" | head -1)" = "$g.ovf" ]'
  x="$LOGS/$g-ova"
  mkdir -p "$x" && tar xf "$ova" -C "$x"
  check "$g: .mf SHA256 lines verify" \
    eval '(cd "$x" && [ "$(grep -c "^SHA256(" "$g.mf")" = 2 ] &&
      sed -E "s/^SHA256\((.*)\)= ([0-9a-f]{64})$/\2  \1/" "$g.mf" | sha256sum -c --quiet)'
  check "$g: OVF has pvscsi, vmxnet3 and a 00:50:56 MAC" \
    eval 'grep -q "<rasd:ResourceSubType>VirtualSCSI<" "$x/$g.ovf" &&
      grep -q "<rasd:ResourceSubType>VmxNet3<" "$x/$g.ovf" &&
      grep -q "<rasd:Address>00:50:56:" "$x/$g.ovf" &&
      python3 -c "import sys,xml.dom.minidom as m; m.parse(sys.argv[1])" "$x/$g.ovf"'
  check "$g: OVA disk is streamOptimized" \
    eval 'qemu-img info "$x/$g-disk1.vmdk" | grep -q "create type: streamOptimized"'
  check "$g: VMX disk is monolithicSparse" \
    eval 'qemu-img info "$d/vmx/$g.vmdk" | grep -q "create type: monolithicSparse"'
  check "$g: OVA and VMX disks hold the same data" \
    qemu-img compare -q -f vmdk -F vmdk "$x/$g-disk1.vmdk" "$d/vmx/$g.vmdk"
  rm -rf "$x"
  case "$g" in
    debian12-vmware) want="root=/dev/sda1" ;;
    *) want="root=/dev/mapper/vg0-root" ;;
  esac
  check "$g: grub.cfg boots with $want and console=ttyS0 (guest-info.txt)" \
    eval 'l="$(grep "^grub linux line:" "$d/guest-info.txt")" &&
      [[ "$l" == *"$want "* ]] && [[ "$l" == *console=ttyS0,115200* ]]'
  check "$g: VMX has pvscsi, vmxnet3 + generatedAddress, guestOS, memsize, numvcpus" \
    eval 'v="$d/vmx/$g.vmx"; grep -qx "scsi0.virtualDev = \"pvscsi\"" "$v" &&
      grep -qx "ethernet0.virtualDev = \"vmxnet3\"" "$v" &&
      grep -Eqx "ethernet0.generatedAddress = \"00:50:56:[0-9a-f:]{8}\"" "$v" &&
      grep -qx "guestOS = \"debian12-64\"" "$v" && grep -qx "memsize = \"1024\"" "$v" &&
      grep -qx "numvcpus = \"2\"" "$v" && grep -qx "displayName = \"$g\"" "$v" &&
      grep -qx "scsi0:0.fileName = \"$g.vmdk\"" "$v"'
done

# --- boots ---------------------------------------------------------------------
boot() { # NAME BUS -> sets res (boot=.. network=..), secs, rc; log in $LOGS
  local g="$1" bus="$2" t0
  t0=$(date +%s)
  res="$(BOOTCHECK_LOG="$LOGS/$g-$bus.serial.log" \
    "$HERE/boot-check.sh" "$CACHE/$g/vmx/$g.vmdk" vmdk "$bus" "$BT" 2>"$LOGS/$g-$bus.boot-check.log" | tail -1)"
  secs=$(($(date +%s) - t0))
  sed 's/^/# /' "$LOGS/$g-$bus.boot-check.log" | grep -v '^# *|' | head -3
  timings+=("boot $g on $bus: $secs s -> $res")
}

boot debian12-vmware sata
check "debian12-vmware boots to login: on SATA ($secs s)" eval '[ "$res" = "boot=yes network=no" ]'
boot debian12-vmware virtio
check "debian12-vmware does not boot on virtio-blk ($secs s)" eval '[ "${res%% *}" = "boot=no" ]'
check "debian12-vmware on virtio-blk: initramfs cannot find /dev/sda1" \
  grep -aq 'ALERT!  /dev/sda1 does not exist' "$LOGS/debian12-vmware-virtio.serial.log"
boot debian12-lvm-networkd sata
check "debian12-lvm-networkd boots to login: on SATA ($secs s)" eval '[ "$res" = "boot=yes network=no" ]'

echo "# timings (accel: $([ -w /dev/kvm ] && echo kvm || echo tcg)):"
for t in "${timings[@]}"; do echo "#   $t"; done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
