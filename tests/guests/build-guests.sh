#!/bin/bash
# Build the end-to-end test guests for hyper2kvm: real, bootable Debian 12
# VMs configured the way a VMware guest is (root=/dev/sda1, by-path swap,
# MODULES=list initramfs without virtio, ens192 pinned by MAC, ...), packaged
# as a vSphere-style OVA (streamOptimized VMDK) and as VMX + monolithicSparse
# VMDK.
#
# Usage: build-guests.sh [--force] [--list]
#
# Output (cache, outside the repository):
#   ${H2K_GUEST_CACHE:-$HOME/.cache/hyper2kvm-test-guests}/NAME/
#       NAME.ova                 (NAME.ovf, NAME.mf, NAME-disk1.vmdk)
#       vmx/NAME.vmx vmx/NAME.vmdk
#       build.sha256             sha256 of this script when NAME was built
#       guest-info.txt           what is inside (for humans)
# A guest is rebuilt only when the sha256 of this script differs from the one
# stored next to its images (or with --force). Everything the build does is in
# this one file, so that hash covers it.
#
# Host needs: scripts/install-guest-deps.sh (mmdebstrap, libguestfs-tools,
# linux-image-amd64 for the appliance, qemu-utils). Runs as root. No loop
# mounts: the disk is partitioned and filled inside the libguestfs appliance
# (LIBGUESTFS_BACKEND=direct, works under TCG), one appliance launch a guest.
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

FORCE=0
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    --list) echo "$GUESTS"; exit 0 ;;
    -h|--help) sed -n '2,27p' "$SELF"; exit 0 ;;
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

[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap root mode, libguestfs)"
for t in mmdebstrap guestfish qemu-img sha256sum tar; do
  command -v "$t" >/dev/null || die "$t missing: run scripts/install-guest-deps.sh"
done
ls /boot/vmlinuz-* >/dev/null 2>&1 ||
  die "no kernel in /boot for the libguestfs appliance: install linux-image-amd64"

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
cleanup() { rm -rf "$SCRATCH"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$SCRATCH/debs"
export LIBGUESTFS_BACKEND=direct
export LIBGUESTFS_CACHEDIR="${LIBGUESTFS_CACHEDIR:-/var/tmp}"

# ---------------------------------------------------------------------------
# Guest root file system (mmdebstrap); per-guest settings come from the
# customize hook below, which is called as: hook.sh ROOTDIR NAME
# ---------------------------------------------------------------------------
write_hook() {
  cat >"$SCRATCH/hook.sh" <<'HOOK'
#!/bin/bash
set -euo pipefail
R="$1"; NAME="$2"; MAC="$3"; ROOTPW="$4"
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

# --- regenerate the initramfs with the settings above ---
chroot "$R" update-initramfs -u -k all
for f in "$R"/boot/initrd.img-*; do
  list="$(chroot "$R" lsinitramfs "/boot/${f##*/}")"
  if printf '%s\n' "$list" | grep -E '/(virtio_blk|virtio_pci|virtio_scsi)\.ko'; then
    echo "hook: virtio driver found in ${f##*/}" >&2; exit 1
  fi
  printf '%s\n' "$list" | grep -q '/ahci\.ko' || { echo "hook: ahci missing" >&2; exit 1; }
  printf '%s\n' "$list" | grep -q '/ext4\.ko' || { echo "hook: ext4 missing" >&2; exit 1; }
done

# --- keep it small ---
chroot "$R" apt-get clean
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/log/*.log "$R"/var/cache/debconf/*-old
rm -f "$R"/etc/ssh/ssh_host_* 2>/dev/null || true
# a fixed machine-id, as an installed machine has (an empty one would make
# systemd treat the boot as a first boot)
printf '%s' "$NAME" | md5sum | cut -c1-32 >"$R/etc/machine-id"
HOOK
  chmod +x "$SCRATCH/hook.sh"
}

build_rootfs() { # NAME -> $SCRATCH/NAME.tar
  local name="$1" mac inc
  mac="$(guest_mac "$name")"
  inc="systemd-sysv,udev,kmod,initramfs-tools,zstd,linux-image-amd64,grub-pc,e2fsprogs,open-vm-tools,iproute2,procps"
  case "$name" in
    debian12-vmware) inc="$inc,ifupdown,isc-dhcp-client" ;;
    debian12-lvm-networkd) inc="$inc,lvm2" ;;
  esac
  log "$name: mmdebstrap (minbase + $inc)"
  mmdebstrap --variant=minbase --mode=root --include="$inc" \
    --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --skip=essential/unlink \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
    --setup-hook="sync-in '$SCRATCH/debs' /var/cache/apt/archives" \
    --essential-hook='echo "grub-pc grub-pc/install_devices_empty boolean true" | chroot "$1" debconf-set-selections' \
    --customize-hook="sync-out /var/cache/apt/archives '$SCRATCH/debs'" \
    --customize-hook="'$SCRATCH/hook.sh' \"\$1\" '$name' '$mac' '$ROOTPW'" \
    bookworm "$SCRATCH/$name.tar" \
    "deb $MIRROR bookworm main" \
    "deb $MIRROR bookworm-updates main" \
    "deb $SECMIRROR bookworm-security main" >"$SCRATCH/$name.mmdebstrap.log" 2>&1 ||
    { tail -40 "$SCRATCH/$name.mmdebstrap.log" >&2; die "$name: mmdebstrap failed"; }
}

# ---------------------------------------------------------------------------
# Disk: partition, mkfs, unpack, grub-install, grub-mkconfig -- all in one
# libguestfs appliance launch. The appliance sees the disk as /dev/sda, so
# grub-mkconfig (GRUB_DISABLE_LINUX_UUID=true) writes root=/dev/sda1 or
# root=/dev/mapper/vg0-root, exactly as on the VMware machine.
# ---------------------------------------------------------------------------
build_disk() { # NAME -> $SCRATCH/NAME.raw
  local name="$1" raw="$SCRATCH/$1.raw" gf="$SCRATCH/$1.guestfish"
  local total=$((DISK_GIB * 1024 * 1024 * 2)) # sectors
  truncate -s "${DISK_GIB}G" "$raw"
  case "$name" in
    debian12-vmware)
      # root: everything but the last 256 MiB, swap: the last 256 MiB
      local swapstart=$((total - 256 * 2048))
      cat >"$gf" <<EOF
add-drive $raw format:raw discard:enable
run
part-init /dev/sda mbr
part-add /dev/sda p 2048 $((swapstart - 1))
part-add /dev/sda p $swapstart -1
part-set-bootable /dev/sda 1 true
part-set-mbr-id /dev/sda 2 0x82
mkfs ext4 /dev/sda1
mkswap /dev/sda2
mount /dev/sda1 /
tar-in $SCRATCH/$name.tar /
command "grub-install --target=i386-pc /dev/sda"
command "update-grub"
fstrim /
umount-all
EOF
      ;;
    debian12-lvm-networkd)
      cat >"$gf" <<EOF
add-drive $raw format:raw discard:enable
run
part-init /dev/sda mbr
part-add /dev/sda p 2048 526335
part-add /dev/sda p 526336 -1
part-set-bootable /dev/sda 1 true
part-set-mbr-id /dev/sda 2 0x8e
pvcreate /dev/sda2
vgcreate vg0 /dev/sda2
lvcreate swap vg0 256
lvcreate-free root vg0 100
mkfs ext4 /dev/sda1
mkfs ext4 /dev/vg0/root
mkswap /dev/vg0/swap
mount /dev/vg0/root /
mkdir /boot
mount /dev/sda1 /boot
tar-in $SCRATCH/$name.tar /
command "grub-install --target=i386-pc /dev/sda"
command "update-grub"
fstrim /boot
fstrim /
umount-all
EOF
      ;;
  esac
  # print the kernel command lines grub-mkconfig wrote, for the checks below
  local grubcfg=/boot/grub/grub.cfg
  sed -i "/^umount-all/i -cat $grubcfg" "$gf"
  log "$name: guestfish (partition, mkfs, tar-in, grub-install, update-grub)"
  # the appliance is a qemu: share boot-check.sh's lock, one qemu at a time
  flock "${H2K_QEMU_LOCK:-/var/tmp/hyper2kvm-qemu.lock}" \
    guestfish --no-progress-bars -f "$gf" >"$SCRATCH/$name.guestfish.log" 2>&1 ||
    { tail -40 "$SCRATCH/$name.guestfish.log" >&2; die "$name: guestfish failed"; }
  rm -f "$SCRATCH/$name.tar"
  local want
  case "$name" in
    debian12-vmware) want='root=/dev/sda1' ;;
    debian12-lvm-networkd) want='root=/dev/mapper/vg0-root' ;;
  esac
  grep -E '^\s*linux\s' "$SCRATCH/$name.guestfish.log" | head -1 | grep -q -- "$want" ||
    die "$name: grub.cfg does not contain $want"
  grep -E '^\s*linux\s' "$SCRATCH/$name.guestfish.log" | head -1 | grep -q 'console=ttyS0' ||
    die "$name: grub.cfg has no console=ttyS0"
}

# ---------------------------------------------------------------------------
# Packaging
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

package_guest() { # NAME
  local name="$1" mac raw="$SCRATCH/$1.raw" out="$SCRATCH/out/$1" cap
  mac="$(guest_mac "$name")"
  cap="$(stat -c %s "$raw")"
  rm -rf "$out"
  mkdir -p "$out/ova" "$out/vmx"
  log "$name: qemu-img convert (streamOptimized, monolithicSparse)"
  qemu-img convert -f raw -O vmdk -o subformat=streamOptimized,adapter_type=lsilogic \
    "$raw" "$out/ova/$name-disk1.vmdk"
  qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse,adapter_type=lsilogic \
    "$raw" "$out/vmx/$name.vmdk"
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
kernel: $(grep -o 'vmlinuz-[^ ]*' "$SCRATCH/$name.guestfish.log" | head -1)
grub linux line: $(grep -E '^\s*linux\s' "$SCRATCH/$name.guestfish.log" | head -1 | sed 's/^\s*//')
EOF
  echo "$HASH" >"$out/build.sha256"
  # replace the cached copy atomically-ish
  rm -rf "$CACHE/$name.old"
  [ -e "$CACHE/$name" ] && mv "$CACHE/$name" "$CACHE/$name.old"
  mv "$out" "$CACHE/$name"
  rm -rf "$CACHE/$name.old"
}

write_hook
for g in $todo; do
  t0=$(date +%s)
  build_rootfs "$g"
  build_disk "$g"
  package_guest "$g"
  log "$g: done in $(($(date +%s) - t0)) s -> $CACHE/$g"
done
