#!/bin/bash
# Where should VMware tools be removed: in the conversion appliance, or by a
# oneshot unit on the guest's first boot under KVM? This measures both on the
# cached VMware-style test guest and prints the cost of each.
#
#   bench/vmware-tools-removal.sh
#
# 1. Converts the guest's OVA twice with hyper2kvm (--no-validate), once with
#    the default in-appliance removal (REMOVE) and once with
#    --no-remove-vmware-tools (KEEP), and reports the seconds the report gives
#    for the removal command, and each job's wall time.
# 2. Makes UNIT: a qcow2 overlay on KEEP's output holding a systemd oneshot
#    unit that runs `dpkg --purge open-vm-tools` on first boot and prints the
#    time it took on the console.
# 3. Boots KEEP, UNIT and REMOVE (tests/guests/boot-check.sh: virtio-blk, a
#    new MAC, user networking with restrict=on) and prints the seconds to
#    the login prompt, plus the unit's own timing line for UNIT.
#
# The first-boot cost is UNIT's boot time minus KEEP's, paid on every
# converted VM's first boot; the appliance cost is the REMOVE job's command
# time, paid once in the conversion.
#
# Environment: BENCH_DIR (default /var/tmp/h2k-tools-bench), BENCH_BUILD
# (default build), BENCH_ROUNDS (boots of each image, default 2),
# H2K_GUEST_CACHE (default ~/.cache/hyper2kvm-test-guests).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=${BENCH_DIR:-/var/tmp/h2k-tools-bench}
H2K="$ROOT/${BENCH_BUILD:-build}/src/hyper2kvm"
ROUNDS=${BENCH_ROUNDS:-2}
CACHE=${H2K_GUEST_CACHE:-$HOME/.cache/hyper2kvm-test-guests}
OVA="$CACHE/debian12-vmware/debian12-vmware.ova"
BOOTCHECK="$ROOT/tests/guests/boot-check.sh"
export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}

die() { echo "vmware-tools-removal: $*" >&2; exit 1; }
[ -x "$H2K" ] || die "no $H2K: build first (meson setup build && ninja -C build)"
[ -f "$OVA" ] || die "no $OVA: run tests/guests/build-guests.sh first"
command -v guestfish >/dev/null || die "guestfish missing (apt-get install libguestfs-tools)"
rm -rf "$D" && mkdir -p "$D" || die "cannot make $D"

# convert NAME [OPTS...]: one job, prints "NAME wall_s removal_s"
convert() {
  local name=$1 out="$D/$1"
  shift
  mkdir -p "$out/conv"
  /usr/bin/time -f '%e' -o "$out/time" "$H2K" ova "$OVA" -o "$out/out" \
    --conversion-dir "$out/conv" --no-validate "$@" >"$out/log" 2>&1 ||
    die "$name conversion failed: see $out/log"
  local removal
  removal=$(grep -o 'remove VMware tools ([0-9.]* s)' "$out"/out/*/report.md |
    grep -o '[0-9.]*' | head -1)
  echo "$name conversion: wall $(cat "$out/time") s, removal command ${removal:-(none)} s"
}

convert REMOVE
convert KEEP --no-remove-vmware-tools
KEEP_IMG=$(ls "$D"/KEEP/out/*/*.qcow2)
REMOVE_IMG=$(ls "$D"/REMOVE/out/*/*.qcow2)

cat >"$D/h2k-remove-vmware-tools" <<'EOF'
#!/bin/sh
start=$(date +%s.%N)
DEBIAN_FRONTEND=noninteractive dpkg --purge open-vm-tools
rc=$?
end=$(date +%s.%N)
echo "h2k-firstboot: dpkg --purge open-vm-tools exit $rc in $(awk "BEGIN { printf \"%.1f\", $end - $start }") s" >/dev/console
rm -f /etc/systemd/system/multi-user.target.wants/h2k-remove-vmware-tools.service \
  /etc/systemd/system/h2k-remove-vmware-tools.service "$0"
EOF
cat >"$D/h2k-remove-vmware-tools.service" <<'EOF'
[Unit]
Description=Remove VMware tools (first boot on KVM)
After=local-fs.target
Before=systemd-user-sessions.service
ConditionPathExists=/var/lib/dpkg/info/open-vm-tools.list

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/h2k-remove-vmware-tools
StandardOutput=journal+console
TimeoutStartSec=0

[Install]
WantedBy=multi-user.target
EOF
UNIT_IMG="$D/unit.qcow2"
qemu-img create -q -f qcow2 -F qcow2 -b "$KEEP_IMG" "$UNIT_IMG" || die "qemu-img create failed"
guestfish -a "$UNIT_IMG" -i >"$D/guestfish.log" 2>&1 <<EOF || die "guestfish failed: see $D/guestfish.log"
upload $D/h2k-remove-vmware-tools /usr/local/sbin/h2k-remove-vmware-tools
chmod 0755 /usr/local/sbin/h2k-remove-vmware-tools
upload $D/h2k-remove-vmware-tools.service /etc/systemd/system/h2k-remove-vmware-tools.service
ln-sf /etc/systemd/system/h2k-remove-vmware-tools.service /etc/systemd/system/multi-user.target.wants/h2k-remove-vmware-tools.service
EOF

for round in $(seq "$ROUNDS"); do
  for v in KEEP UNIT REMOVE; do
    img_var=${v}_IMG
    log="$D/boot-$v-$round.serial"
    # each boot gets a fresh overlay from boot-check.sh, so UNIT's unit runs
    # every round
    res=$(BOOTCHECK_LOG="$log" "$BOOTCHECK" "${!img_var}" qcow2 virtio 900 \
      52:54:00:b2:10:01 2>"$D/boot-$v-$round.err" | tail -1)
    secs=$(grep -o 'boot_seconds=[0-9]*' "$D/boot-$v-$round.err" | cut -d= -f2)
    fb=$(tr -d '\r' <"$log" | grep -ao 'h2k-firstboot: .*' | head -1)
    echo "boot round $round $v: $res login after ${secs:-?} s ${fb:+[$fb]}"
  done
done
