#!/bin/bash
# Peer comparison: hyper2kvm vs virt-v2v on the same OVA files.
#
#   bench/vs-virt-v2v.sh [FILE.ova ...]
#
# Default inputs: the two cached test guests (tests/guests/build-guests.sh)
#   ~/.cache/hyper2kvm-test-guests/debian12-vmware/debian12-vmware.ova
#   ~/.cache/hyper2kvm-test-guests/debian12-lvm-networkd/debian12-lvm-networkd.ova
#
# For each OVA, back to back (the order alternates from one run to the next,
# so neither tool always gets the warm page cache or the quieter minute):
#   virt-v2v  -i ova FILE.ova -o local -os DIR -of qcow2
#   hyper2kvm ova FILE.ova -o DIR --conversion-dir DIR --no-validate
# both with LIBGUESTFS_BACKEND=direct, timed with GNU time (wall seconds,
# user+sys CPU seconds, peak RSS of the largest process, the appliance's
# qemu included). Both do conversion only: hyper2kvm's own
# boot check (VALIDATE) is off. Then each output is booted with
# tests/guests/boot-check.sh (virtio-blk disk, one virtio NIC with a new
# 52:54:00:... MAC behind a pcie-root-port, i.e. where libvirt's q35 layout
# puts the first NIC: PCI 0000:01:00.0, name enp1s0; QEMU user networking,
# restrict=on) and reported as boots y/n (login: on ttyS0) and network y/n
# (the guest sent a DHCP request).
#
# Prints one table per OVA and the ratio of the wall times hyper2kvm/virt-v2v,
# for each run's pair (the two conversions ran back to back) and of the
# medians. Targets: hyper2kvm's output boots with the network up; the
# ratio is <= 0.6 in every run (the verdict takes the worst pair).
#
# Needs root when virt-v2v (Debian: virt-v2v, plus nbdkit and libnbd-bin,
# which virt-v2v 2.2 needs for -o local but the Debian package does not pull
# in) is missing: it is installed with apt-get, or the script stops.
#
# Environment:
#   BENCH_DIR=DIR        work files (default /var/tmp/h2k-vs-v2v); the outputs,
#                        tool logs, serial logs and pcaps stay there
#   BENCH_BUILD=DIR      hyper2kvm build directory (default build)
#   BENCH_RUNS=N         conversions per tool and OVA (default 2); the order of
#                        the two tools alternates from run to run; the table
#                        gives the median, and the outputs of the last run
#                        are booted
#   BENCH_BOOT_TIMEOUT=S seconds to wait for login: per boot (default 900)
#   BENCH_NETWAIT=S      after login:, wait this long for DHCP (default 30)
#   BENCH_LOCK=0         do not hold the machine's qemu lock
#                        (H2K_QEMU_LOCK, default /var/tmp/hyper2kvm-qemu.lock)
#                        while the two conversions run (default: hold it, so
#                        no other lock-respecting boot check runs meanwhile)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=${BENCH_DIR:-/var/tmp/h2k-vs-v2v}
BUILD=${BENCH_BUILD:-build}
RUNS=${BENCH_RUNS:-2}
BOOT_TIMEOUT=${BENCH_BOOT_TIMEOUT:-900}
NETWAIT=${BENCH_NETWAIT:-30}
LOCK=${H2K_QEMU_LOCK:-/var/tmp/hyper2kvm-qemu.lock}
CACHE=${H2K_GUEST_CACHE:-$HOME/.cache/hyper2kvm-test-guests}

die() { echo "vs-virt-v2v: $*" >&2; exit 1; }

if [ $# -eq 0 ]; then
  set -- "$CACHE/debian12-vmware/debian12-vmware.ova" \
    "$CACHE/debian12-lvm-networkd/debian12-lvm-networkd.ova"
fi
for ova in "$@"; do
  [ -r "$ova" ] || die "cannot read $ova (build the test guests with tests/guests/build-guests.sh)"
done

# ---- tools ---------------------------------------------------------------
need_pkgs=()
command -v virt-v2v >/dev/null || need_pkgs+=(virt-v2v)
command -v nbdkit >/dev/null || need_pkgs+=(nbdkit)
command -v nbdcopy >/dev/null || need_pkgs+=(libnbd-bin)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${need_pkgs[*]}; run as root so that apt-get can install them"
  command -v apt-get >/dev/null || die "missing ${need_pkgs[*]} and no apt-get to install them"
  echo "vs-virt-v2v: installing ${need_pkgs[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_pkgs[@]}" >&2 ||
    die "apt-get install ${need_pkgs[*]} failed"
  for c in virt-v2v nbdkit nbdcopy; do
    command -v "$c" >/dev/null || die "$c still missing after apt-get"
  done
fi
[ -x /usr/bin/time ] || die "needs GNU time (apt-get install time)"
command -v qemu-system-x86_64 >/dev/null || die "needs qemu-system-x86_64"
command -v flock >/dev/null || die "needs flock (util-linux)"
[ -x "$ROOT/$BUILD/src/hyper2kvm" ] || die "no $ROOT/$BUILD/src/hyper2kvm (ninja -C $BUILD)"

mkdir -p "$D" || die "cannot create $D"
# Snapshot the binary: the build directory may be rebuilt while this runs,
# and every OVA should be converted by the same hyper2kvm.
H2K="$D/hyper2kvm"
if ! cp "$ROOT/$BUILD/src/hyper2kvm" "$H2K.tmp" || ! mv "$H2K.tmp" "$H2K"; then
  die "cannot copy the hyper2kvm binary"
fi

# boot-check.sh with the NIC behind a pcie-root-port (libvirt's q35 layout:
# the first NIC is 0000:01:00.0, named enp1s0 by systemd). Used unchanged if
# it already does that.
BC="$ROOT/tests/guests/boot-check.sh"
if ! grep -q 'pcie-root-port' "$BC"; then
  # shellcheck disable=SC2016 # $MAC is boot-check.sh's, not ours
  sed 's|-device "virtio-net-pci,netdev=n0,mac=\$MAC"|-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0x2 -device "virtio-net-pci,netdev=n0,mac=$MAC,bus=rp1"|' \
    "$BC" >"$D/boot-check.sh"
  grep -q 'pcie-root-port' "$D/boot-check.sh" || die "could not put the NIC of $BC behind a root port"
  chmod +x "$D/boot-check.sh"
  BC="$D/boot-check.sh"
fi

export LIBGUESTFS_BACKEND=direct

# ---- helpers ---------------------------------------------------------------
CHILD=""
on_signal() {
  # the tools run in their own process group (setsid): stop it, appliance
  # qemu included, by that id
  if [ -n "$CHILD" ]; then
    kill -TERM -- "-$CHILD" 2>/dev/null
    sleep 2
    kill -KILL -- "-$CHILD" 2>/dev/null
  fi
  exit 130
}
trap on_signal INT TERM HUP

# timed LOG TIMEFILE CMD...: run CMD in its own session, output to LOG;
# TIMEFILE gets "wall user sys maxrss_kib". Returns CMD's status.
timed() {
  local log=$1 tf=$2 rc
  shift 2
  setsid -w /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >"$log" 2>&1 9>&- </dev/null &
  CHILD=$!
  wait "$CHILD"
  rc=$?
  CHILD=""
  return "$rc"
}

# boot IMAGE TAG MAC: boot-check the image; sets B_BOOT B_NET B_SECS
boot() {
  local img=$1 tag=$2 mac=$3 out
  B_BOOT=n B_NET=n B_SECS=-
  if [ ! -f "$img" ]; then
    echo "  $tag: no output image to boot" >&2
    return
  fi
  out=$(BOOTCHECK_LOG="$GD/$tag-serial.log" BOOTCHECK_PCAP="$GD/$tag-net.pcap" \
    BOOTCHECK_NETWAIT="$NETWAIT" "$BC" "$img" qcow2 virtio "$BOOT_TIMEOUT" "$mac" 2>"$GD/$tag-bootcheck.log")
  cat "$GD/$tag-bootcheck.log" >&2
  case "$out" in *boot=yes*) B_BOOT=y ;; esac
  case "$out" in *network=yes*) B_NET=y ;; esac
  B_SECS=$(grep -o 'boot_seconds=[0-9]*' "$GD/$tag-bootcheck.log" | tail -1 | cut -d= -f2)
  [ -n "$B_SECS" ] || B_SECS=-
  if [ "$B_BOOT" = n ] || [ "$B_NET" = n ]; then
    # why: the kernel command line and what the guest said about its root
    # disk and its NICs
    echo "  $tag: serial log $GD/$tag-serial.log; relevant lines:" >&2
    tr -d '\r' <"$GD/$tag-serial.log" 2>/dev/null |
      grep -aE 'Command line:|ALERT!|Gave up waiting|does not exist|emergency|renamed from|ens[0-9]+|enp[0-9]+s[0-9]+|eth[0-9]+:|ifup|dhclient|DHCP|networkd|Failed to start|wait-online|\(initramfs\)' |
      grep -avE '^\s*$' | head -25 | sed 's/^/  | /' >&2
  fi
}

fmt_time() { # TIMEFILE ("wall user sys rss_kib") -> "wall cpu rss_mib"
  awk '/^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+$/ { printf "%.1f %.1f %.0f\n", $1, $2 + $3, $4 / 1024; ok = 1 }
    END { if (!ok) print "- - 0" }' "$1" 2>/dev/null || echo "- - 0"
}

median() { # numbers ("-" ignored) -> median, or "-"
  printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -n |
    awk '{ a[NR] = $1 } END { if (!NR) print "-"; else if (NR % 2) printf "%.1f\n", a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# ---- run -------------------------------------------------------------------
echo "vs-virt-v2v: $(date -u +%FT%TZ) on $(hostname), $(nproc) CPU(s), load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "vs-virt-v2v: $(virt-v2v --version 2>&1 | head -1); nbdkit $(nbdkit --version 2>&1 | awk '{print $2}'); $(qemu-system-x86_64 --version | head -1)"
echo "vs-virt-v2v: $("$H2K" version 2>&1 | head -1) ($ROOT/$BUILD/src/hyper2kvm, sha256 $(sha256sum "$H2K" | cut -c1-12), git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo +dirty))"
echo "vs-virt-v2v: boot check: $BC (accel $([ -w /dev/kvm ] && echo kvm || echo tcg), timeout ${BOOT_TIMEOUT}s)"
echo "vs-virt-v2v: work files under $D"

summary=()
n=0
for ova in "$@"; do
  n=$((n + 1))
  name=$(basename "$ova" .ova)
  GD="$D/$name"
  rm -rf "$GD"
  mkdir -p "$GD"
  mac=$(printf '52:54:00:b2:%02x:%02x' $((n / 256)) $((n % 256)))
  echo
  echo "=== $name: $ova ($(du -m "$ova" | cut -f1) MiB, sha256 $(sha256sum "$ova" | cut -c1-12)), $RUNS run(s) per tool, boot MAC $mac"
  v_walls=() v_cpus=() h_walls=() h_cpus=() v_rss=0 h_rss=0
  for run in $(seq "$RUNS"); do
    RD="$GD/run$run"
    # keep the logs and reports of earlier runs, not their images
    if [ "$run" -gt 1 ]; then
      P="$GD/run$((run - 1))"
      rm -rf "$P/h2k-conv"
      find "$P/v2v" "$P/h2k-out" -type f \( -name '*-sd?' -o -name '*.qcow2' \) -delete
    fi
    mkdir -p "$RD/v2v" "$RD/h2k-out" "$RD/h2k-conv"
    if [ $(((n + run) % 2)) = 0 ]; then order="virt-v2v hyper2kvm"; else order="hyper2kvm virt-v2v"; fi
    if [ "${BENCH_LOCK:-1}" != 0 ]; then
      exec 9>"$LOCK"
      if ! flock -n 9; then
        echo "vs-virt-v2v: waiting for the qemu lock $LOCK" >&2
        flock 9
      fi
    fi
    for tool in $order; do
      load=$(cut -d' ' -f1-3 /proc/loadavg)
      case $tool in
        virt-v2v)
          t=v2v
          timed "$RD/$t.log" "$RD/$t.time" \
            virt-v2v -i ova "$ova" -o local -os "$RD/v2v" -of qcow2
          ;;
        hyper2kvm)
          t=h2k
          timed "$RD/$t.log" "$RD/$t.time" \
            "$H2K" ova "$ova" -o "$RD/h2k-out" --conversion-dir "$RD/h2k-conv" --no-validate
          ;;
      esac
      rc=$?
      read -r wall cpu rss < <(fmt_time "$RD/$t.time")
      echo "  run $run: $tool: exit $rc, $wall s wall, $cpu s CPU (user+sys), $rss MiB peak RSS; load before: $load"
      if [ "$rc" != 0 ]; then
        tail -5 "$RD/$t.log" | sed 's/^/  | /'
        wall=- cpu=-
      fi
      if [ "$t" = v2v ]; then
        v_walls+=("$wall") v_cpus+=("$cpu")
        [ "$rc" = 0 ] && [ "$rss" -gt "$v_rss" ] && v_rss=$rss
      else
        h_walls+=("$wall") h_cpus+=("$cpu")
        [ "$rc" = 0 ] && [ "$rss" -gt "$h_rss" ] && h_rss=$rss
      fi
    done
    [ "${BENCH_LOCK:-1}" != 0 ] && exec 9>&-
  done
  grep -aE 'warning' "$RD/v2v.log" | sed 's/^/  virt-v2v /'
  # shellcheck disable=SC2016 # backquotes are markdown here
  grep -aE '^- `\(command\)`: ' "$RD"/h2k-out/*/report.md 2>/dev/null |
    sed 's/^- `(command)`: /  hyper2kvm in the appliance: /'

  # boot the outputs of the last run
  v2v_img=$(find "$RD/v2v" -maxdepth 1 -name '*-sda' | head -1)
  h2k_img=$(find "$RD/h2k-out" -mindepth 2 -maxdepth 2 -name '*.qcow2' | head -1)
  boot "$v2v_img" v2v "$mac"
  v_boot=$B_BOOT v_net=$B_NET v_secs=$B_SECS
  boot "$h2k_img" h2k "$mac"
  h_boot=$B_BOOT h_net=$B_NET h_secs=$B_SECS

  v_wall=$(median "${v_walls[@]}") v_cpu=$(median "${v_cpus[@]}")
  h_wall=$(median "${h_walls[@]}") h_cpu=$(median "${h_cpus[@]}")
  v_mib=$([ -n "$v2v_img" ] && du -m "$v2v_img" | cut -f1 || echo -)
  h_mib=$([ -n "$h2k_img" ] && du -m "$h2k_img" | cut -f1 || echo -)
  ratio=$(awk -v h="$h_wall" -v v="$v_wall" 'BEGIN { if (v + 0 > 0 && h + 0 > 0) printf "%.2f", h / v; else print "-" }')
  cratio=$(awk -v h="$h_cpu" -v v="$v_cpu" 'BEGIN { if (v + 0 > 0 && h + 0 > 0) printf "%.2f", h / v; else print "-" }')
  # "in the same run": each run's pair on its own, and the worst of them
  pairs=()
  for i in "${!h_walls[@]}"; do
    pairs+=("$(awk -v h="${h_walls[$i]}" -v v="${v_walls[$i]:-}" 'BEGIN { if (v + 0 > 0 && h + 0 > 0) printf "%.2f", h / v; else print "-" }')")
  done
  worst=$(printf '%s\n' "${pairs[@]}" | grep -E '^[0-9.]+$' | sort -n | tail -1)
  worst=${worst:--}
  verdict_time=$(awk -v r="$worst" 'BEGIN { if (r == "-") print "n/a"; else if (r + 0 <= 0.6) print "met"; else print "MISSED" }')
  case " ${h_walls[*]} " in *" - "*) verdict_time="MISSED (a hyper2kvm run failed)" ;; esac
  verdict_boot=$([ "$h_boot$h_net" = yy ] && echo met || echo MISSED)

  echo
  echo "guest: $name (median of $RUNS run(s); wall per run: virt-v2v ${v_walls[*]}, hyper2kvm ${h_walls[*]})"
  echo "| tool | wall_s | cpu_s | peak_rss_MiB | out_MiB | boots | network | boot_s |"
  echo "|---|---|---|---|---|---|---|---|"
  echo "| virt-v2v | $v_wall | $v_cpu | $v_rss | $v_mib | $v_boot | $v_net | $v_secs |"
  echo "| hyper2kvm | $h_wall | $h_cpu | $h_rss | $h_mib | $h_boot | $h_net | $h_secs |"
  echo "ratio hyper2kvm/virt-v2v: wall of the medians $ratio, per run ${pairs[*]}, worst $worst (target <= 0.60 in every run: $verdict_time), CPU $cratio; hyper2kvm boots with network: $verdict_boot"
  summary+=("$name: wall ratio per run ${pairs[*]}, worst $worst ($verdict_time), of the medians $ratio; CPU ratio $cratio; hyper2kvm boot=$h_boot network=$h_net ($verdict_boot); virt-v2v boot=$v_boot network=$v_net")
done

echo
echo "=== summary ($(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%s\n' "${summary[@]}"
