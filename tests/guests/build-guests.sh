#!/bin/bash
# Build the end-to-end test guests for hyper2kvm: real, bootable Debian 12
# VMs configured the way a VMware guest is (root=/dev/sda1, by-path swap,
# MODULES=list initramfs without virtio, ens192 pinned by MAC, ...), packaged
# as a vSphere-style OVA (streamOptimized VMDK) and as VMX + monolithicSparse
# VMDK.
#
# Usage: build-guests.sh [--force] [--list] [--check]
#   --force   rebuild even if cached
#   --list    print the guest names
#   --check   exit 0 if every guest is cached and current, 1 if not (no build)
#
# Output (cache, outside the repository):
#   ${H2K_GUEST_CACHE:-$HOME/.cache/hyper2kvm-test-guests}/NAME/
#       NAME.ova                 (NAME.ovf, NAME.mf, NAME-disk1.vmdk)
#       vmx/NAME.vmx vmx/NAME.vmdk
#       build.sha256             sha256 of this script when NAME was built
#       guest-info.txt           what is inside (for humans)
#       build-times.txt          how long each phase took
#   .../.debs/                   the .debs of the last build (reused; apt
#                                fetches only what changed in the archive)
# A guest is rebuilt only when the sha256 of this script differs from the one
# stored next to its images (or with --force). Everything the build does is in
# this one file, so that hash covers it.
#
# How (no VM, no libguestfs appliance: everything runs natively; 4-6 min
# from a cold cache on 2 cores, downloads included):
#   1. one mmdebstrap "base" tree with the packages both guests share; the
#      kernel's initramfs is not built there (update-initramfs is diverted)
#   2. per guest, in parallel: a second mmdebstrap run on a copy of the base
#      installs the guest's own packages from the .deb cache, applies the
#      VMware-style settings, builds the MODULES=list initramfs once, and
#      does what `grub-install --target=i386-pc /dev/sda` + `update-grub`
#      would do on the VMware machine (grub-mkconfig runs with a grub-probe
#      that describes the future disk: /dev/sda1, hd0,msdos1, the UUIDs)
#   3. the disk image is assembled without mounting it read-write: sfdisk,
#      `mke2fs -d TREE` at the partition (or LV) offset, a swap header, LVM
#      metadata written through a loop device (metadata only: no
#      device-mapper needed), then grub-bios-setup writes the boot sector
#      and core.img (it needs the file system read-only on a loop device)
#   4. qemu-img converts to streamOptimized / monolithicSparse VMDK
#
# Host needs: root, loop devices (no device-mapper, no partition scanning:
# both are often missing in containers), mmdebstrap, e2fsprogs (mke2fs -d),
# fdisk (sfdisk), mount (losetup, mount), util-linux (unshare), qemu-utils;
# dpkg-dev (dpkg-architecture) makes mmdebstrap's eatmydata hook usable.
# Environment: H2K_GUEST_CACHE, H2K_DEBIAN_MIRROR,
# H2K_DEBIAN_SECURITY_MIRROR, H2K_GUEST_KEEP_SCRATCH=1 (keep the build
# directory, for debugging).
#
# Guest root password: "hyper2kvm" (tests never log in).
set -euo pipefail

SELF="$(readlink -f "${BASH_SOURCE[0]}")"
CACHE="${H2K_GUEST_CACHE:-$HOME/.cache/hyper2kvm-test-guests}"
MIRROR="${H2K_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECMIRROR="${H2K_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
GUESTS="debian12-vmware debian12-lvm-networkd"
ROOTPW="hyper2kvm"
DISK_GIB=3

FORCE=0 CHECK=0
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    --list) echo "$GUESTS"; exit 0 ;;
    --check) CHECK=1 ;;
    -h|--help) sed -n '2,/^# Guest root password/p' "$SELF"; exit 0 ;;
    *) echo "build-guests: unknown argument: $a" >&2; exit 2 ;;
  esac
done

log() { printf '[build-guests %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

HASH="$(sha256sum "$SELF" | cut -d' ' -f1)"

guest_mac() {
  case "$1" in
    debian12-vmware) echo "00:50:56:8a:3c:01" ;;
    debian12-lvm-networkd) echo "00:50:56:8a:3c:02" ;;
  esac
}
# the packages only one guest has (the base has the rest)
guest_extras() {
  case "$1" in
    debian12-vmware) echo "ifupdown isc-dhcp-client" ;;
    debian12-lvm-networkd) echo "lvm2" ;;
  esac
}
BASE_PKGS="systemd-sysv,udev,kmod,initramfs-tools,zstd,linux-image-amd64,grub-pc,e2fsprogs,open-vm-tools,iproute2,procps"

# Stable identifiers derived from the guest name (reproducible builds).
hexof() { printf '%s' "$1" | sha256sum | cut -c1-32; }
uuid_for() { # NAME PURPOSE -> a version-4-shaped UUID
  local h
  h="$(hexof "$1/$2")"
  printf '%s-%s-4%s-%s%s-%s\n' "${h:0:8}" "${h:8:4}" "${h:13:3}" \
    "$(printf '%x' $(((0x${h:16:1} & 3) | 8)))" "${h:17:3}" "${h:20:12}"
}
label_id_for() { hexof "$1/mbr" | cut -c1-8; }

guest_ok() { # NAME -> 0 if cached artefacts match this script
  local d="$CACHE/$1"
  [ -s "$d/$1.ova" ] && [ -s "$d/vmx/$1.vmx" ] && [ -s "$d/vmx/$1.vmdk" ] &&
    [ "$(cat "$d/build.sha256" 2>/dev/null)" = "$HASH" ]
}

todo=""
for g in $GUESTS; do
  if [ "$FORCE" = 1 ] || ! guest_ok "$g"; then todo="$todo $g"; fi
done
if [ -z "$todo" ]; then
  log "all guests cached in $CACHE (build hash ${HASH:0:12})"
  exit 0
fi
if [ "$CHECK" = 1 ]; then
  log "not cached or stale in $CACHE:$todo"
  exit 1
fi

[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap root mode, loop devices)"
for t in mmdebstrap mke2fs mkswap sfdisk losetup mount umount unshare chroot \
  qemu-img sha256sum tar flock; do
  command -v "$t" >/dev/null || die "$t missing: run scripts/install-deps.sh --guests"
done
usage="$(mke2fs -h 2>&1 || true)"
grep -q -- '-d root-directory' <<<"$usage" ||
  die "mke2fs cannot populate a file system (-d): e2fsprogs >= 1.43 needed"

mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
flock 9
# another build may have finished while we waited for the lock
if [ "$FORCE" = 0 ]; then
  t2=""
  for g in $todo; do guest_ok "$g" || t2="$t2 $g"; done
  todo="$t2"
  [ -n "$todo" ] || { log "built by a concurrent run"; exit 0; }
fi

SCRATCH="$(mktemp -d /var/tmp/h2k-guest-build.XXXXXX)"
cleanup() {
  local m f l
  # whatever a failed step left mounted or attached under the scratch dir
  for m in $(awk -v s="$SCRATCH" 'index($2, s) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  for f in "$SCRATCH"/*.raw; do
    [ -e "$f" ] || continue
    for l in $(losetup -j "$f" -O NAME -n 2>/dev/null); do losetup -d "$l" 2>/dev/null || true; done
  done
  if [ "${H2K_GUEST_KEEP_SCRATCH:-0}" = 1 ]; then
    log "scratch kept: $SCRATCH"
  else
    rm -rf --one-file-system "$SCRATCH"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# loop device check (container without loop support: say so clearly)
truncate -s 1M "$SCRATCH/probe.raw"
l="$(losetup -f --show "$SCRATCH/probe.raw" 2>/dev/null)" ||
  die "cannot attach a loop device (losetup): the disk assembly needs loop devices"
losetup -d "$l"
rm -f "$SCRATCH/probe.raw"

DEBS="$CACHE/.debs"
mkdir -p "$DEBS" "$SCRATCH/debs"
TIMES="$SCRATCH/times"
: >"$TIMES"
# Run CMD with its output, each line time-stamped, in FILE; CMD's status.
run_logged() { # FILE CMD...
  local f="$1"
  shift
  "$@" </dev/null 2>&1 | while IFS= read -r l; do printf '%(%H:%M:%S)T %s\n' -1 "$l"; done >"$f"
  return "${PIPESTATUS[0]}"
}
# Phase timings: t=$(date +%s); step; took LABEL "$t". (Not a wrapper that
# runs the step: a function called as "f || ..." runs without set -e.)
took() { # LABEL START
  local s=$(($(date +%s) - $2))
  printf '%s: %d s\n' "$1" "$s" >>"$TIMES"
  log "$1: $s s"
}

# Options shared by both mmdebstrap runs (they also end up in the guests'
# /etc/apt/apt.conf.d/99mmdebstrap and /etc/dpkg/dpkg.cfg.d/99mmdebstrap).
MMOPTS=(--mode=root --format=directory --aptopt='Acquire::Languages "none"')
# dpkg path filters: no man pages, locales, docs (but copyrights), info.
PATH_RULES=('path-exclude=/usr/share/man/*'
  'path-exclude=/usr/share/locale/*'
  'path-include=/usr/share/locale/locale.alias'
  'path-exclude=/usr/share/doc/*'
  'path-include=/usr/share/doc/*/copyright'
  'path-exclude=/usr/share/info/*')
MIRRORS=("deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main"
  "deb $SECMIRROR bookworm-security main")

# ---------------------------------------------------------------------------
# 1. The base tree: what both guests share. The .debs of the guests' own
# packages are downloaded too, so that the per-guest runs need no network.
# ---------------------------------------------------------------------------
build_base() {
  local all_extras="" g hooks=()
  for g in $GUESTS; do all_extras="$all_extras $(guest_extras "$g")"; done
  # dpkg without fsync (mmdebstrap's eatmydata hook; it needs dpkg-dev's
  # dpkg-architecture on the host): a speed-up, not a requirement
  if command -v dpkg-architecture >/dev/null && [ -d /usr/share/mmdebstrap/hooks/eatmydata ]; then
    hooks=(--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata)
  fi
  run_logged "$SCRATCH/base.mmdebstrap.log" \
    mmdebstrap --variant=minbase --include="$BASE_PKGS" "${MMOPTS[@]}" \
    "${hooks[@]}" \
    --skip=essential/unlink --skip=cleanup/apt/lists \
    --setup-hook="mkdir -p \"\$1/etc/dpkg/dpkg.cfg.d\" && printf '%s\\n' ${PATH_RULES[*]@Q} >\"\$1/etc/dpkg/dpkg.cfg.d/99h2k-paths\"" \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
    --setup-hook="sync-in '$DEBS' /var/cache/apt/archives" \
    --extract-hook="python3 '$SCRATCH/prune.py' \"\$1\" \"\$1/etc/dpkg/dpkg.cfg.d/99h2k-paths\"" \
    --essential-hook='echo "grub-pc grub-pc/install_devices_empty boolean true" | chroot "$1" debconf-set-selections' \
    --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.h2k-real --add /usr/sbin/update-initramfs &&
      printf "#!/bin/sh\n# build-guests.sh: the initramfs is built once per guest, later\nexit 0\n" >"$1/usr/sbin/update-initramfs" &&
      chmod 755 "$1/usr/sbin/update-initramfs"' \
    --customize-hook="chroot \"\$1\" apt-get install --download-only --yes --no-install-recommends $all_extras" \
    --customize-hook='chroot "$1" apt-get autoclean --yes' \
    --customize-hook="sync-out /var/cache/apt/archives '$SCRATCH/debs'" \
    --customize-hook='mv "$1/etc/dpkg/dpkg.cfg.d/99h2k-paths" "$1/etc/dpkg/dpkg.cfg.d/99mmdebstrap"' \
    bookworm "$SCRATCH/base" "${MIRRORS[@]}" ||
    { tail -40 "$SCRATCH/base.mmdebstrap.log" >&2; die "base: mmdebstrap failed"; }
  # keep exactly the .debs of this build for the next one
  rm -rf "$DEBS.new"
  mv "$SCRATCH/debs" "$DEBS.new"
  rm -rf "$DEBS"
  mv "$DEBS.new" "$DEBS"
}

# ---------------------------------------------------------------------------
# 2. Per-guest customization, run by mmdebstrap as a customize hook:
#      hook.sh ROOTDIR NAME MAC ROOTPW EXTRAS PROBE PREFIX
# ---------------------------------------------------------------------------
# The path filters are not given to the base mmdebstrap as --dpkgopt: with
# them, mmdebstrap pipes every essential package through its Python tar
# filter while extracting (1-2 min on 2 cores). The base extracts the
# essential packages whole and this script, run as an extract hook (before
# dpkg installs them and runs their maintainer scripts), removes what the
# filters exclude, by the rule of dpkg's filters.c: excluded unless
# re-included, and a directory or symlink is kept when an include pattern's
# fixed prefix starts it; a directory that is not empty stays, as tar would
# have made it. dpkg then installs with the same filters (99h2k-paths,
# renamed 99mmdebstrap at the end, as --dpkgopt would have named it).
write_prune() {
  cat >"$SCRATCH/prune.py" <<'PRUNE'
import os, re, sys, fnmatch
root, cfg = sys.argv[1], sys.argv[2]
rules = []
for line in open(cfg):
    m = re.match(r"^path-(exclude|include)=(.*)$", line.strip())
    if m:
        rules.append((m.group(1) == "include", re.compile(fnmatch.translate(m.group(2))), m.group(2)))
def skip(path, dir_or_link):
    s = False
    for inc, rx, _ in rules:
        if rx.match(path):
            s = not inc
    if s and dir_or_link:
        for inc, _, pat in rules:
            if inc:
                n = min([pat.find(c) for c in "*?[\\" if c in pat] or [len(pat)])
                if path.startswith(pat[:n].rstrip("/")):
                    return False
    return s
tops = sorted({re.split(r"[*?\[\\]", p)[0].rstrip("/") for inc, _, p in rules if not inc})
removed = 0
for top in tops:
    for d, dirs, files in os.walk(root + top, topdown=False):
        for f in files + dirs:
            full = os.path.join(d, f)
            rel = full[len(root):]
            link = os.path.islink(full)
            isdir = os.path.isdir(full) and not link
            if not skip(rel, isdir or link):
                continue
            if isdir:
                try:
                    os.rmdir(full)
                except OSError:
                    continue  # keeps included files
            else:
                os.unlink(full)
            removed += 1
print("prune: removed %d paths excluded by %s" % (removed, os.path.basename(cfg)))
PRUNE
}

write_hook() {
  cat >"$SCRATCH/hook.sh" <<'HOOK'
#!/bin/bash
set -euo pipefail
R="$1"; NAME="$2"; MAC="$3"; ROOTPW="$4"; EXTRAS="$5"; PROBE="$6"; PREFIX="$7"
export DEBIAN_FRONTEND=noninteractive

echo "hook: the guest's own packages"
# --- the guest's own packages (their .debs were synced in: no download) ---
# shellcheck disable=SC2086
chroot "$R" apt-get install --yes --no-install-recommends $EXTRAS

echo "$NAME" >"$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
  "$NAME" >"$R/etc/hosts"
echo "root:$ROOTPW" | chroot "$R" chpasswd

# --- serial console: getty on ttyS0 (also implied by console=ttyS0) ---
mkdir -p "$R/etc/systemd/system/getty.target.wants"
ln -sf /lib/systemd/system/serial-getty@.service \
  "$R/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"

# --- GRUB defaults, VMware style: no UUIDs, device names ---
sed -i -e '/^GRUB_CMDLINE_LINUX/d' -e '/^GRUB_TIMEOUT=/d' -e '/^GRUB_DISABLE_LINUX_UUID/d' \
  "$R/etc/default/grub"
case "$NAME" in
  debian12-vmware) CMDLINE="console=ttyS0,115200 root=/dev/sda1" ;;
  *) CMDLINE="console=ttyS0,115200" ;;
esac
cat >>"$R/etc/default/grub" <<EOF
GRUB_TIMEOUT=1
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="$CMDLINE"
GRUB_DISABLE_LINUX_UUID=true
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
EOF

# --- initramfs: only the drivers of the VMware machine, no virtio ---
sed -i 's/^MODULES=.*/MODULES=list/' "$R/etc/initramfs-tools/initramfs.conf"
grep -q '^MODULES=list$' "$R/etc/initramfs-tools/initramfs.conf"
echo "RESUME=none" >"$R/etc/initramfs-tools/conf.d/resume"
{
  echo "# VMware virtual hardware: SATA/AHCI, LSI Logic (SPI/SAS), PVSCSI, PIIX"
  printf '%s\n' ahci sd_mod mptspi mptsas vmw_pvscsi ata_piix ext4 crc32c_generic
  if [ "$NAME" = debian12-lvm-networkd ]; then echo dm_mod; fi
} >"$R/etc/initramfs-tools/modules"

# --- fstab and network, per guest ---
case "$NAME" in
  debian12-vmware)
    cat >"$R/etc/fstab" <<'EOF'
# /etc/fstab: static file system information.
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
/dev/sda1       /               ext4    errors=remount-ro 0       1
/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part2 none swap sw 0 0
EOF
    cat >"$R/etc/network/interfaces" <<'EOF'
# This file describes the network interfaces available on your system
# and how to activate them. For more information, see interfaces(5).

source /etc/network/interfaces.d/*

# The loopback network interface
auto lo
iface lo inet loopback

# The primary network interface
auto ens192
iface ens192 inet dhcp
EOF
    cat >"$R/etc/udev/rules.d/70-persistent-net.rules" <<EOF
# This file was automatically generated by the /lib/udev/write_net_rules
# program, run by the persistent-net-generator.rules rules file.
#
# PCI device 0x15ad:0x07b0 (vmxnet3)
SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="$MAC", ATTR{dev_id}=="0x0", ATTR{type}=="1", NAME="ens192"
EOF
    ;;
  debian12-lvm-networkd)
    cat >"$R/etc/fstab" <<'EOF'
# /etc/fstab: static file system information.
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
/dev/mapper/vg0-root /          ext4    errors=remount-ro 0       1
/dev/sda1       /boot           ext4    defaults        0       2
/dev/mapper/vg0-swap none       swap    sw              0       0
EOF
    mkdir -p "$R/etc/systemd/network"
    cat >"$R/etc/systemd/network/10-ens192.network" <<EOF
[Match]
MACAddress=$MAC

[Network]
DHCP=yes
EOF
    chroot "$R" systemctl enable systemd-networkd.service
    ;;
esac

echo "hook: initramfs"
# --- the initramfs, built once with the settings above (the base diverted
# update-initramfs so that the kernel's postinst did not build one) ---
rm -f "$R/usr/sbin/update-initramfs"
chroot "$R" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs
rm -f "$R/var/lib/dpkg/diversions-old" # dpkg-divert's backup: no trace left
chroot "$R" update-initramfs -c -k all
n=0
for f in "$R"/boot/initrd.img-*; do
  [ -e "$f" ] || continue
  n=$((n + 1))
  list="$(chroot "$R" lsinitramfs "/boot/${f##*/}")"
  # (here-strings, not "printf | grep -q": grep -q may exit before printf
  # has written, and pipefail would then report SIGPIPE as a failure)
  if grep -E '/(virtio_blk|virtio_pci|virtio_scsi)\.ko' <<<"$list"; then
    echo "hook: virtio driver found in ${f##*/}" >&2; exit 1
  fi
  grep -q '/ahci\.ko' <<<"$list" || { echo "hook: ahci missing" >&2; exit 1; }
  grep -q '/ext4\.ko' <<<"$list" || { echo "hook: ext4 missing" >&2; exit 1; }
  if [ "$NAME" = debian12-lvm-networkd ]; then
    grep -q 'sbin/lvm$' <<<"$list" || { echo "hook: lvm missing from initramfs" >&2; exit 1; }
  fi
done
[ "$n" -ge 1 ] || { echo "hook: no initramfs was built" >&2; exit 1; }

echo "hook: grub"
# --- what `grub-install --target=i386-pc /dev/sda` puts in /boot/grub: the
# modules, boot.img, a core.img for "(,msdos1)PREFIX" (byte-identical to
# grub-install's for this layout), unicode.pf2, grubenv. The boot sector and
# the embedded core.img are written when the disk is assembled. ---
G=/boot/grub
L=/usr/lib/grub/i386-pc
mkdir -p "$R$G/i386-pc" "$R$G/fonts" "$R$G/locale"
cp "$R$L"/*.mod "$R$L"/efiemu32.o "$R$L"/efiemu64.o "$R$L"/modinfo.sh "$R$L"/boot.img "$R$G/i386-pc/"
for l in command fs partmap parttool video crypto terminal moddep; do
  cp "$R$L/$l.lst" "$R$G/i386-pc/"
done
cp "$R/usr/share/grub/unicode.pf2" "$R$G/fonts/"
chmod 644 "$R$G"/i386-pc/* "$R$G"/fonts/* # as grub-install leaves them
chroot "$R" grub-mkimage -O i386-pc -d "$L" -o "$G/i386-pc/core.img" \
  -p "(,msdos1)$PREFIX" ext2 part_msdos biosdisk
chroot "$R" grub-editenv "$G/grubenv" create

# --- grub.cfg: grub-mkconfig, with a grub-probe that describes the disk
# this tree is going to (/dev/sda1, hd0,msdos1, vg0-root, the UUIDs) ---
# When /boot is a file system of its own on the guest (PREFIX=/grub), it is
# one here too (a tmpfs copy), so that grub-mkconfig finds the kernels at
# /vmlinuz-*, not /boot/vmlinuz-*, as on the real machine.
rm -f "$R/tmp/h2k-grub-probe.unknown" "$R/tmp/h2k-grub.cfg"
unshare --mount --propagation private sh -c '
  set -e
  P="$1" R="$2" SEPARATE_BOOT="$3"
  mount --bind "$P" "$R/usr/sbin/grub-probe"
  if [ "$SEPARATE_BOOT" = 1 ]; then
    mount -t tmpfs -o mode=755 h2k-boot "$R/mnt"
    cp -a "$R/boot/." "$R/mnt/"
    mount --move "$R/mnt" "$R/boot"
  fi
  chroot "$R" update-grub
  cp -p "$R/boot/grub/grub.cfg" "$R/tmp/h2k-grub.cfg"' \
  sh "$PROBE" "$R" "$([ "$PREFIX" = /grub ] && echo 1 || echo 0)"
cp -p "$R/tmp/h2k-grub.cfg" "$R/boot/grub/grub.cfg"
rm -f "$R/tmp/h2k-grub.cfg"
if [ -e "$R/tmp/h2k-grub-probe.unknown" ]; then
  echo "hook: grub-mkconfig asked the stand-in grub-probe something it cannot answer:" >&2
  cat "$R/tmp/h2k-grub-probe.unknown" >&2
  exit 1
fi

echo "hook: clean up"
# --- keep it small ---
chroot "$R" apt-get clean
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/log/*.log "$R"/var/cache/debconf/*-old
rm -f "$R"/etc/ssh/ssh_host_* 2>/dev/null || true
HOOK
  chmod +x "$SCRATCH/hook.sh"
}

# The stand-in grub-probe for one guest: answers what grub-mkconfig asks
# about paths and devices of the finished disk. Anything else is recorded
# (the hook then fails) rather than guessed.
write_probe() { # NAME -> $SCRATCH/NAME.grub-probe
  local name="$1" rootdev bootdev rootuuid bootuuid label
  label="$(label_id_for "$name")"
  rootuuid="$(uuid_for "$name" root)"
  case "$name" in
    debian12-vmware) rootdev=/dev/sda1 bootdev=/dev/sda1 bootuuid="$rootuuid" ;;
    debian12-lvm-networkd)
      rootdev=/dev/mapper/vg0-root bootdev=/dev/sda1 bootuuid="$(uuid_for "$name" boot)" ;;
  esac
  cat >"$SCRATCH/$name.grub-probe" <<EOF
#!/bin/sh
# build-guests.sh: grub-probe for the disk being assembled (not the build host)
ROOTDEV="$rootdev" BOOTDEV="$bootdev" ROOTUUID="$rootuuid" BOOTUUID="$bootuuid" LABEL="$label"
EOF
  cat >>"$SCRATCH/$name.grub-probe" <<'EOF'
target="" isdev=0 args=""
unknown() {
  echo "grub-probe (build-guests stand-in): cannot answer: $*" >&2
  echo "$*" >>/tmp/h2k-grub-probe.unknown
  exit 1
}
all="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --target=*) target="${1#--target=}" ;;
    -t | --target) target="$2"; shift ;;
    -d | --device) isdev=1 ;;
    -*) unknown "$all" ;;
    *) args="$args $1" ;;
  esac
  shift
done
set -- $args
[ $# -ge 1 ] || unknown "$all"
if [ "$isdev" = 1 ]; then
  dev="$1"
else
  case "$1" in
    /boot | /boot/*) dev="$BOOTDEV" ;;
    /*) dev="$ROOTDEV" ;;
    *) unknown "$all" ;;
  esac
fi
case "$dev" in
  /dev/sda1)
    uuid="$BOOTUUID"; [ "$ROOTDEV" = /dev/sda1 ] && uuid="$ROOTUUID"
    case "$target" in
      device) echo "$dev" ;;
      fs) echo ext2 ;;
      fs_uuid) echo "$uuid" ;;
      fs_label) echo ;;
      partuuid) echo "$LABEL-01" ;;
      partmap) echo msdos ;;
      abstraction | cryptodisk_uuid) echo ;;
      compatibility_hint) echo "hd0,msdos1" ;;
      hints_string) echo "--hint-bios=hd0,msdos1 --hint-efi=hd0,msdos1 --hint-baremetal=ahci0,msdos1 " ;;
      drive) echo "(hd0,msdos1)" ;;
      disk) echo /dev/sda ;;
      *) unknown "$all" ;;
    esac ;;
  /dev/mapper/vg0-root)
    case "$target" in
      device) echo "$dev" ;;
      fs) echo ext2 ;;
      fs_uuid) echo "$ROOTUUID" ;;
      fs_label | partuuid | cryptodisk_uuid) echo ;;
      abstraction) echo lvm ;;
      *) unknown "$all" ;;
    esac ;;
  *) unknown "$all" ;;
esac
EOF
  chmod 755 "$SCRATCH/$name.grub-probe"
}

customize_guest() { # NAME -> $SCRATCH/NAME.tree
  local name="$1" prefix=/boot/grub
  [ "$name" = debian12-lvm-networkd ] && prefix=/grub # /boot is its own fs
  write_probe "$name"
  run_logged "$SCRATCH/$name.mmdebstrap.log" \
    mmdebstrap --variant=custom "${MMOPTS[@]}" "${PATH_RULES[@]/#/--dpkgopt=}" --skip=update \
    --setup-hook="tar -C '$SCRATCH/base' --exclude='./dev/*' --xattrs --xattrs-include='*' --acls -cf - . |
      tar -C \"\$1\" --xattrs --xattrs-include='*' --acls -xf -" \
    --setup-hook="mkdir -p \"\$1/var/cache/apt/archives\" &&
      { cp -l '$DEBS'/*.deb \"\$1/var/cache/apt/archives/\" 2>/dev/null ||
        cp '$DEBS'/*.deb \"\$1/var/cache/apt/archives/\"; }" \
    --customize-hook="'$SCRATCH/hook.sh' \"\$1\" '$name' '$(guest_mac "$name")' '$ROOTPW' '$(guest_extras "$name")' '$SCRATCH/$name.grub-probe' '$prefix'" \
    bookworm "$SCRATCH/$name.tree" "${MIRRORS[@]}" ||
    { tail -40 "$SCRATCH/$name.mmdebstrap.log" >&2; die "$name: mmdebstrap (customize) failed"; }
  local t="$SCRATCH/$name.tree"
  # a fixed machine-id, as an installed machine has (mmdebstrap empties it;
  # an empty one would make systemd treat every boot as a first boot)
  printf '%s\n' "$(hexof "$name")" >"$t/etc/machine-id"
  # as apt leaves it on an installed system
  chroot "$t" chown _apt:root /var/lib/apt/lists/partial
}

# ---------------------------------------------------------------------------
# 3. Disk assembly
# ---------------------------------------------------------------------------
# Run a program of the guest tree with the tree's own libraries (same grub
# and LVM versions as the guest, nothing needed on the host).
tree_run() { # TREE PROGRAM ARGS...
  local t="$1" p="$2"
  shift 2
  "$t/lib64/ld-linux-x86-64.so.2" \
    --library-path "$t/usr/lib/x86_64-linux-gnu:$t/lib/x86_64-linux-gnu" "$t$p" "$@"
}

mkfs_at() { # RAW START_SECTOR SECTORS UUID DIR
  mke2fs -q -F -t ext4 -U "$4" -E "offset=$(($2 * 512)),nodiscard" -d "$5" "$1" "$(($3 / 2))k"
}

mkswap_at() { # RAW START_SECTOR SECTORS: a swap header at that place
  local tmp="$1.swap"
  truncate -s $(($3 * 512)) "$tmp"
  mkswap "$tmp" >/dev/null 2>&1
  dd if="$tmp" of="$1" bs=4096 count=1 seek=$(($2 * 512 / 4096)) conv=notrunc status=none
  rm -f "$tmp"
}

# grub-bios-setup: boot.img into the MBR, core.img into the gap after it.
# It reads both from GRUBDIR_IN_FS on the file system that starts at
# 1 MiB (mounted read-only through a loop device, as grub needs a device for
# it) and writes to RAW as (hd0).
bios_setup() { # NAME RAW FS_SECTORS GRUBDIR_IN_FS
  local name="$1" raw="$2" t="$SCRATCH/$1.tree" m="$SCRATCH/$1.mnt" l
  mkdir -p "$m"
  l="$(losetup -r -f --show -o $((2048 * 512)) --sizelimit $(($3 * 512)) "$raw")"
  mount -o ro,noload "$l" "$m" || { losetup -d "$l"; return 1; }
  echo "(hd0) $raw" >"$SCRATCH/$name.device.map"
  local rc=0
  tree_run "$t" /usr/lib/grub/i386-pc/grub-bios-setup -d "$m$4" \
    -m "$SCRATCH/$name.device.map" "$raw" || rc=$?
  # the file system as the guest will see it: a last look
  if [ "$rc" = 0 ]; then
    grep -E '^\s*linux\s' "$m$4/../grub.cfg" | head -1 >"$SCRATCH/$name.linux-line" || rc=1
    ls "$m$4/../../" >"$SCRATCH/$name.bootfs.ls" || rc=1
  fi
  umount "$m"
  losetup -d "$l"
  rmdir "$m"
  return "$rc"
}

lvm_layout() { # RAW START_SECTOR SECTORS -> prints "swap_first_pe root_first_pe root_pes pe_start_sectors extent_sectors"
  local raw="$1" t="$SCRATCH/debian12-lvm-networkd.tree" l cfg
  l="$(losetup -f --show -o $(($2 * 512)) --sizelimit $(($3 * 512)) "$raw")"
  mkdir -p "$SCRATCH/lvm" "$SCRATCH/lvm-lock"
  # metadata only: no device-mapper (activation=0), no udev, no backups
  cfg="devices { obtain_device_list_from_udev=0 use_devicesfile=0 scan=[\"/dev\"] }
    activation { udev_sync=0 udev_rules=0 monitoring=0 }
    global { activation=0 locking_dir=\"$SCRATCH/lvm-lock\" }
    backup { backup=0 archive=0 }"
  lvmc() { LVM_SYSTEM_DIR="$SCRATCH/lvm" LVM_SUPPRESS_FD_WARNINGS=1 \
    tree_run "$t" /usr/sbin/lvm "$1" --devices "$l" --config "$cfg" "${@:2}"; }
  {
    lvmc pvcreate --yes "$l" &&
      lvmc vgcreate vg0 "$l" &&
      lvmc lvcreate --yes -an -Zn -n swap -L 256m vg0 &&
      lvmc lvcreate --yes -an -Zn -n root -l 100%FREE vg0
  } >"$SCRATCH/lvm.log" 2>&1 || { cat "$SCRATCH/lvm.log" >&2; losetup -d "$l"; return 1; }
  local pe_start ext ranges
  read -r pe_start ext < <(lvmc pvs --noheadings --units s --nosuffix \
    -o pe_start,vg_extent_size "$l" 2>/dev/null)
  ranges="$(lvmc lvs --noheadings -o lv_name,seg_pe_ranges vg0 2>/dev/null)"
  losetup -d "$l"
  local sw rt
  sw="$(awk '$1 == "swap" {sub(/.*:/, "", $2); print $2}' <<<"$ranges")"
  rt="$(awk '$1 == "root" {sub(/.*:/, "", $2); print $2}' <<<"$ranges")"
  [ -n "$sw" ] && [ -n "$rt" ] && [ -n "$pe_start" ] || { echo "lvm: no layout: $ranges" >&2; return 1; }
  [ "$((${sw#*-} - ${sw%-*} + 1))" = 64 ] || { echo "lvm: swap is not 64 extents: $sw" >&2; return 1; }
  echo "${sw%-*} ${rt%-*} $((${rt#*-} - ${rt%-*} + 1)) $pe_start $ext"
}

build_disk() { # NAME -> $SCRATCH/NAME.raw
  local name="$1" raw="$SCRATCH/$1.raw" t="$SCRATCH/$1.tree"
  local total=$((DISK_GIB * 1024 * 1024 * 2)) # sectors
  rm -f "$raw"
  truncate -s "${DISK_GIB}G" "$raw"
  case "$name" in
    debian12-vmware)
      # root: everything but the last 256 MiB, swap: the last 256 MiB
      local swapstart=$((total - 256 * 2048))
      sfdisk --quiet --no-reread --no-tell-kernel "$raw" <<EOF
label: dos
label-id: 0x$(label_id_for "$name")
unit: sectors

start=2048, size=$((swapstart - 2048)), type=83, bootable
start=$swapstart, size=$((total - swapstart)), type=82
EOF
      mkfs_at "$raw" 2048 $((swapstart - 2048)) "$(uuid_for "$name" root)" "$t"
      mkswap_at "$raw" "$swapstart" $((total - swapstart))
      bios_setup "$name" "$raw" $((swapstart - 2048)) /boot/grub/i386-pc
      ;;
    debian12-lvm-networkd)
      local p2=526336
      sfdisk --quiet --no-reread --no-tell-kernel "$raw" <<EOF
label: dos
label-id: 0x$(label_id_for "$name")
unit: sectors

start=2048, size=$((p2 - 2048)), type=83, bootable
start=$p2, size=$((total - p2)), type=8e
EOF
      local sw rt rtn pes ext
      read -r sw rt rtn pes ext < <(lvm_layout "$raw" "$p2" $((total - p2)))
      [ -n "${ext:-}" ] || return 1
      # /boot is its own file system: move its content out of the root tree
      local b="$SCRATCH/$name.boot"
      rm -rf "$b" && mkdir -m 755 "$b"
      mv "$t"/boot/* "$b"/
      mkfs_at "$raw" 2048 $((p2 - 2048)) "$(uuid_for "$name" boot)" "$b"
      mkfs_at "$raw" $((p2 + pes + rt * ext)) $((rtn * ext)) "$(uuid_for "$name" root)" "$t"
      mkswap_at "$raw" $((p2 + pes + sw * ext)) $((64 * ext))
      bios_setup "$name" "$raw" $((p2 - 2048)) /grub/i386-pc
      ;;
  esac
  local want
  case "$name" in
    debian12-vmware) want='root=/dev/sda1' ;;
    debian12-lvm-networkd) want='root=/dev/mapper/vg0-root' ;;
  esac
  grep -q -- "$want" "$SCRATCH/$name.linux-line" || die "$name: grub.cfg does not contain $want"
  grep -q 'console=ttyS0' "$SCRATCH/$name.linux-line" || die "$name: grub.cfg has no console=ttyS0"
}

# ---------------------------------------------------------------------------
# 4. Packaging
# ---------------------------------------------------------------------------
write_ovf() { # NAME MAC VMDK CAPACITY_BYTES > NAME.ovf
  local name="$1" mac="$2" vmdk="$3" cap="$4" size
  size="$(stat -c %s "$vmdk")"
  cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!--Generated by VMware ovftool 4.4.3 (build-18663434), UTC time: 2024-05-14T09:12:44.118Z-->
<Envelope vmw:buildId="build-18663434" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="${vmdk##*/}" ovf:id="file1" ovf:size="$size"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="$((cap / 1073741824))" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" ovf:populatedSize="$size"/>
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
    <Network ovf:name="VM Network">
      <Description>The VM Network network</Description>
    </Network>
  </NetworkSection>
  <VirtualSystem ovf:id="$name">
    <Info>A virtual machine</Info>
    <Name>$name</Name>
    <OperatingSystemSection ovf:id="96" vmw:osType="debian12_64Guest">
      <Info>The kind of installed guest operating system</Info>
      <Description>Debian GNU/Linux 12 (64-bit)</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>$name</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-19</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:Description>Number of Virtual CPUs</rasd:Description>
        <rasd:ElementName>2 virtual CPU(s)</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>2</rasd:VirtualQuantity>
        <vmw:CoresPerSocket ovf:required="false">1</vmw:CoresPerSocket>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:Description>Memory Size</rasd:Description>
        <rasd:ElementName>1024MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>1024</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Description>SCSI Controller</rasd:Description>
        <rasd:ElementName>SCSI controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>VirtualSCSI</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType>
        <vmw:Config ovf:required="false" vmw:key="slotInfo.pciSlotNumber" vmw:value="160"/>
      </Item>
      <Item ovf:required="false">
        <rasd:AutomaticAllocation>false</rasd:AutomaticAllocation>
        <rasd:ElementName>Video card</rasd:ElementName>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:ResourceType>24</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:Address>$mac</rasd:Address>
        <rasd:AddressOnParent>7</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>VM Network</rasd:Connection>
        <rasd:Description>VmxNet3 ethernet adapter on &quot;VM Network&quot;</rasd:Description>
        <rasd:ElementName>Network adapter 1</rasd:ElementName>
        <rasd:InstanceID>6</rasd:InstanceID>
        <rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
        <vmw:Config ovf:required="false" vmw:key="slotInfo.pciSlotNumber" vmw:value="192"/>
        <vmw:Config ovf:required="false" vmw:key="connectable.allowGuestControl" vmw:value="true"/>
      </Item>
      <vmw:Config ovf:required="false" vmw:key="cpuHotAddEnabled" vmw:value="false"/>
      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="bios"/>
      <vmw:Config ovf:required="false" vmw:key="tools.syncTimeWithHost" vmw:value="false"/>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
EOF
}

write_vmx() { # NAME MAC
  local name="$1" mac="$2" n
  n="$(printf '%s' "$name" | sha256sum | cut -c1-32)"
  # uuid.bios "56 4d xx xx ..." style, derived from the name (stable)
  local u
  u="$(printf '%s' "$n" | sed -E 's/(..)/\1 /g; s/ $//; s/^((.. ){7}..) /\1-/')"
  cat <<EOF
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "$name"
guestOS = "debian12-64"
memsize = "1024"
numvcpus = "2"
cpuid.coresPerSocket = "1"
firmware = "bios"
pciBridge0.present = "TRUE"
pciBridge4.present = "TRUE"
pciBridge4.virtualDev = "pcieRootPort"
pciBridge4.functions = "8"
pciBridge5.present = "TRUE"
pciBridge5.virtualDev = "pcieRootPort"
pciBridge5.functions = "8"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0.pciSlotNumber = "160"
scsi0:0.present = "TRUE"
scsi0:0.deviceType = "scsi-hardDisk"
scsi0:0.fileName = "$name.vmdk"
scsi0:0.redo = ""
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "vpx"
ethernet0.generatedAddress = "$mac"
ethernet0.pciSlotNumber = "192"
ethernet0.uptCompatibility = "TRUE"
tools.syncTimeWithHost = "FALSE"
tools.upgrade.policy = "manual"
uuid.bios = "$u"
vc.uuid = "$u"
sched.cpu.latencySensitivity = "normal"
EOF
}

package_guest() { # NAME -> $SCRATCH/out/NAME
  local name="$1" mac raw="$SCRATCH/$1.raw" out="$SCRATCH/out/$1" cap
  mac="$(guest_mac "$name")"
  cap="$(stat -c %s "$raw")"
  rm -rf "$out"
  mkdir -p "$out/ova" "$out/vmx"
  # the two conversions read the same raw file: run them side by side
  qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse,adapter_type=lsilogic \
    "$raw" "$out/vmx/$name.vmdk" &
  local p=$!
  qemu-img convert -f raw -O vmdk -o subformat=streamOptimized,adapter_type=lsilogic \
    "$raw" "$out/ova/$name-disk1.vmdk"
  wait "$p"
  rm -f "$raw"
  write_ovf "$name" "$mac" "$out/ova/$name-disk1.vmdk" "$cap" >"$out/ova/$name.ovf"
  (cd "$out/ova" &&
    for f in "$name.ovf" "$name-disk1.vmdk"; do
      printf 'SHA256(%s)= %s\n' "$f" "$(sha256sum "$f" | cut -d' ' -f1)"
    done >"$name.mf")
  tar --format=ustar --owner=0 --group=0 --numeric-owner --mtime='2024-05-14 09:12:44' \
    -C "$out/ova" -cf "$out/$name.ova" "$name.ovf" "$name.mf" "$name-disk1.vmdk"
  rm -rf "$out/ova"
  write_vmx "$name" "$mac" >"$out/vmx/$name.vmx"
  cat >"$out/guest-info.txt" <<EOF
name: $name
built: $(date -u +%Y-%m-%dT%H:%M:%SZ) by tests/guests/build-guests.sh (sha256 $HASH)
source MAC (vmxnet3, ens192): $mac
root password: $ROOTPW
disk: ${DISK_GIB} GiB, MBR, BIOS grub-pc
kernel: $(grep -o 'vmlinuz-[^ ]*' "$SCRATCH/$name.bootfs.ls" | head -1)
grub linux line: $(sed 's/^\s*//' "$SCRATCH/$name.linux-line")
EOF
}

# Remove a directory tree in the background (waited for by build_one).
rm_bg() { # DIR...
  local d del=()
  for d in "$@"; do
    mv "$d" "$d.del.$BASHPID" 2>/dev/null && del+=("$d.del.$BASHPID")
  done
  [ ${#del[@]} = 0 ] || rm -rf --one-file-system "${del[@]}" &
}

build_one() { # NAME: steps 2-4 for one guest (runs in the background)
  local name="$1" t g
  t=$(date +%s)
  customize_guest "$name"
  took "$name: customize (mmdebstrap on the base)" "$t"
  # the last guest to be done with the base removes it
  touch "$SCRATCH/$name.customized"
  for g in $todo; do [ -e "$SCRATCH/$g.customized" ] || g=""; [ -n "$g" ] || break; done
  [ -z "$g" ] || rm_bg "$SCRATCH/base"
  t=$(date +%s)
  build_disk "$name"
  took "$name: disk (sfdisk, mke2fs -d, swap, lvm, grub-bios-setup)" "$t"
  rm_bg "$SCRATCH/$name.tree" "$SCRATCH/$name.boot"
  t=$(date +%s)
  package_guest "$name"
  took "$name: package (qemu-img convert, ovf, mf, ova)" "$t"
  wait
}

install_guest() { # NAME: replace the cached copy
  local name="$1" out="$SCRATCH/out/$1"
  grep "^$name: " "$TIMES" >"$out/build-times.txt" || true
  grep "^base" "$TIMES" >>"$out/build-times.txt" || true
  echo "$HASH" >"$out/build.sha256"
  rm -rf "$CACHE/$name.old"
  [ -e "$CACHE/$name" ] && mv "$CACHE/$name" "$CACHE/$name.old"
  mv "$out" "$CACHE/$name"
  rm -rf "$CACHE/$name.old"
}

T0=$(date +%s)
write_hook
write_prune
log "building:$todo (scratch $SCRATCH)"
t=$(date +%s)
build_base
took "base: mmdebstrap (minbase + shared packages, .debs of all guests)" "$t"
pids=()
for g in $todo; do
  (build_one "$g") >"$SCRATCH/$g.build.log" 2>&1 &
  pids+=("$!")
done
i=0 failed=""
for g in $todo; do
  if wait "${pids[$i]}"; then
    install_guest "$g"
    log "$g: built -> $CACHE/$g"
  else
    failed="$failed $g"
    log "$g: FAILED; its log:"
    tail -40 "$SCRATCH/$g.build.log" >&2
  fi
  i=$((i + 1))
done
sed 's/^/  /' "$TIMES" >&2
[ -z "$failed" ] || die "failed:$failed"
log "done in $(($(date +%s) - T0)) s"
