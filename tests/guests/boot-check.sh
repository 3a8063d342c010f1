#!/bin/bash
# Boot a disk image under QEMU (KVM if /dev/kvm is usable, else TCG) and tell
# whether it reaches a login prompt on the serial port and whether it asks
# for an address by DHCP.
#
# Usage: boot-check.sh IMAGE FORMAT BUS [TIMEOUT] [MAC]
#   IMAGE    disk image; never modified (booted through a qcow2 overlay)
#   FORMAT   qemu format of IMAGE: vmdk, qcow2, raw, ...
#   BUS      sata (AHCI on q35) | virtio (virtio-blk) | scsi (virtio-scsi)
#            | ide (PIIX IDE on the pc machine)
#   TIMEOUT  seconds to wait for "login:" (default 300)
#   MAC      MAC of the virtio-net NIC (default 52:54:00:12:34:56)
#
# Prints, as the last line:  boot=yes|no network=yes|no
#   boot=yes     "login:" appeared on the serial console within TIMEOUT
#   network=yes  the guest sent a DHCP DISCOVER or REQUEST (UDP 68 -> 67)
# Exit status: 0 boot=yes, 1 boot=no, 2 usage or setup error.
#
# The NIC is on QEMU user networking with restrict=on: the guest reaches
# nothing beyond QEMU's own DHCP server (no host, no outside). No port is
# forwarded. Only one boot check runs at a time on a machine (flock).
#
# Environment:
#   BOOTCHECK_LOG=FILE       copy the serial log there
#   BOOTCHECK_PCAP=FILE      copy the packet capture there
#   BOOTCHECK_NETWAIT=SECS   after login:, wait this long for DHCP (default 15)
#   BOOTCHECK_SMP=N          vCPUs (default 1: TCG on a small machine)
#   H2K_QEMU_LOCK=FILE       lock serialising qemu runs (boot checks and
#                            build-guests.sh's appliance); default
#                            /var/tmp/hyper2kvm-qemu.lock
set -uo pipefail

usage() { sed -n '2,30p' "$0" >&2; exit 2; }
if [ $# -lt 3 ] || [ $# -gt 5 ]; then usage; fi
IMAGE="$1" FORMAT="$2" BUS="$3" TIMEOUT="${4:-300}" MAC="${5:-52:54:00:12:34:56}"
NETWAIT="${BOOTCHECK_NETWAIT:-15}"
SMP="${BOOTCHECK_SMP:-1}"
LOCK="${H2K_QEMU_LOCK:-/var/tmp/hyper2kvm-qemu.lock}"

[ -r "$IMAGE" ] || { echo "boot-check: cannot read $IMAGE" >&2; exit 2; }
case "$TIMEOUT" in '' | *[!0-9]*) echo "boot-check: bad TIMEOUT $TIMEOUT" >&2; exit 2 ;; esac
echo "$MAC" | grep -Eiq '^([0-9a-f]{2}:){5}[0-9a-f]{2}$' ||
  { echo "boot-check: bad MAC $MAC" >&2; exit 2; }
QEMU="$(command -v qemu-system-x86_64)" || { echo "boot-check: qemu-system-x86_64 missing" >&2; exit 2; }

machine=q35
case "$BUS" in
  sata) disk=(-device "ide-hd,drive=d0,bus=ide.0") ;; # q35's ICH9 AHCI
  virtio) disk=(-device "virtio-blk-pci,drive=d0") ;;
  scsi) disk=(-device "virtio-scsi-pci,id=vs0" -device "scsi-hd,drive=d0,bus=vs0.0") ;;
  ide) machine=pc; disk=(-device "ide-hd,drive=d0,bus=ide.0") ;;
  *) echo "boot-check: unknown BUS $BUS (sata|virtio|scsi|ide)" >&2; exit 2 ;;
esac

# The NIC where libvirt puts the first NIC of a q35 domain (behind the first
# PCIe root port, 0000:01:00.0: the guest calls it enp1s0), as VALIDATE does.
if [ "$machine" = q35 ]; then
  nic=(-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0x2
    -device "virtio-net-pci,netdev=n0,mac=$MAC,bus=rp1")
else
  nic=(-device "virtio-net-pci,netdev=n0,mac=$MAC")
fi

if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
  accel=(-accel kvm -cpu host) accelname=kvm
else
  accel=(-accel tcg -cpu max) accelname=tcg
fi

WORK="$(mktemp -d /var/tmp/h2k-bootcheck.XXXXXX)" || exit 2
QPID=""
cleanup() {
  if [ -n "$QPID" ]; then
    kill "$QPID" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$QPID" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$QPID" 2>/dev/null
    wait "$QPID" 2>/dev/null
    QPID=""
  fi
  [ -n "${BOOTCHECK_LOG:-}" ] && [ -f "$WORK/serial.log" ] && cp "$WORK/serial.log" "$BOOTCHECK_LOG"
  [ -n "${BOOTCHECK_PCAP:-}" ] && [ -f "$WORK/net.pcap" ] && cp "$WORK/net.pcap" "$BOOTCHECK_PCAP"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Count DHCP client packets (UDP 68 -> 67, DISCOVER or REQUEST) in a pcap.
# Prints "<count> <first-src-mac>".
dhcp_in_pcap() {
  python3 - "$1" <<'PY'
import struct, sys
try:
    data = open(sys.argv[1], "rb").read()
except OSError:
    print("0 -"); sys.exit(0)
if len(data) < 24:
    print("0 -"); sys.exit(0)
magic = data[:4]
if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
    e = "<"
elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
    e = ">"
else:
    print("0 -"); sys.exit(0)
linktype = struct.unpack(e + "I", data[20:24])[0]
off, n, src = 24, 0, "-"
while off + 16 <= len(data):
    _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    if linktype != 1 or len(pkt) < 14:
        continue
    eth = pkt[12:14]
    p = 14
    while eth in (b"\x81\x00", b"\x88\xa8") and len(pkt) >= p + 4:
        eth = pkt[p + 2:p + 4]; p += 4
    if eth != b"\x08\x00" or len(pkt) < p + 20:
        continue
    ihl = (pkt[p] & 0x0F) * 4
    if pkt[p + 9] != 17 or len(pkt) < p + ihl + 8:
        continue
    u = p + ihl
    sport, dport = struct.unpack(">HH", pkt[u:u + 4])
    if sport != 68 or dport != 67:
        continue
    bootp = pkt[u + 8:]
    mtype = None
    if len(bootp) >= 240 and bootp[236:240] == b"\x63\x82\x53\x63":
        i = 240
        while i < len(bootp):
            code = bootp[i]
            if code == 0: i += 1; continue
            if code == 255 or i + 1 >= len(bootp): break
            ln = bootp[i + 1]
            if code == 53 and ln >= 1: mtype = bootp[i + 2]
            i += 2 + ln
    if mtype in (1, 3):  # DISCOVER, REQUEST
        n += 1
        if src == "-":
            src = ":".join("%02x" % b for b in pkt[6:12])
print(n, src)
PY
}

qemu-img create -q -f qcow2 -F "$FORMAT" -b "$(readlink -f "$IMAGE")" "$WORK/overlay.qcow2" ||
  { echo "boot-check: cannot create overlay on $IMAGE ($FORMAT)" >&2; exit 2; }

# one qemu at a time on this machine
exec 8>"$LOCK"
if ! flock -n 8; then
  echo "boot-check: waiting for another boot check to finish" >&2
  flock 8
fi

: >"$WORK/serial.log"
"$QEMU" -nodefaults -machine "$machine" "${accel[@]}" -smp "$SMP" -m 1024 \
  -display none -vga none -monitor none -serial "file:$WORK/serial.log" \
  -no-reboot \
  -drive "file=$WORK/overlay.qcow2,format=qcow2,if=none,id=d0,cache=unsafe" "${disk[@]}" \
  -netdev user,id=n0,restrict=on \
  "${nic[@]}" \
  -object "filter-dump,id=f0,netdev=n0,file=$WORK/net.pcap" \
  >"$WORK/qemu.out" 2>&1 &
QPID=$!
echo "boot-check: $IMAGE ($FORMAT) bus=$BUS machine=$machine accel=$accelname mac=$MAC timeout=${TIMEOUT}s qemu pid $QPID" >&2

start=$(date +%s)
boot=no why="timeout after ${TIMEOUT}s"
while :; do
  now=$(date +%s)
  if tr -d '\r' <"$WORK/serial.log" | grep -aEq '(^|[[:space:]])login: *$'; then
    boot=yes why="login prompt after $((now - start))s"
    break
  fi
  if grep -aEq 'Dropping to a shell|Kernel panic|\(initramfs\) *$|You are in emergency mode|Give root password for maintenance' "$WORK/serial.log" 2>/dev/null; then
    why="$({ grep -aEo 'ALERT! .*|Kernel panic.*' "$WORK/serial.log"
      grep -aEo 'Gave up waiting for [a-z ]*device|You are in emergency mode|Dropping to a shell' "$WORK/serial.log"
    } | head -1 | tr -d '\r') after $((now - start))s"
    break
  fi
  if ! kill -0 "$QPID" 2>/dev/null; then
    why="qemu exited after $((now - start))s: $(tail -3 "$WORK/qemu.out" | tr '\n' ' ')"
    break
  fi
  [ $((now - start)) -ge "$TIMEOUT" ] && break
  sleep 2
done
boot_secs=$(($(date +%s) - start))

read -r ndhcp dsrc < <(dhcp_in_pcap "$WORK/net.pcap")
if [ "$boot" = yes ] && [ "$ndhcp" = 0 ]; then
  # give a DHCP client that starts after getty a moment
  t=0
  while [ "$t" -lt "$NETWAIT" ] && [ "$ndhcp" = 0 ] && kill -0 "$QPID" 2>/dev/null; do
    sleep 3; t=$((t + 3))
    read -r ndhcp dsrc < <(dhcp_in_pcap "$WORK/net.pcap")
  done
fi
network=no
[ "$ndhcp" -gt 0 ] && network=yes

echo "boot-check: $why; boot_seconds=$boot_secs; dhcp_client_packets=$ndhcp (from $dsrc)" >&2
if [ "$boot" = no ]; then
  echo "boot-check: last serial lines:" >&2
  tr -d '\r' <"$WORK/serial.log" | grep -av '^\s*$' | tail -15 | sed 's/^/  | /' >&2
fi
echo "boot=$boot network=$network"
[ "$boot" = yes ]
