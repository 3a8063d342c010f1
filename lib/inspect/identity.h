/* GuestIdentity: what INSPECT learns about the guest (seed 001). Filled by
 * the libguestfs layer; read by PLAN, reports and metadata.json. */
#ifndef H2K_INSPECT_IDENTITY_H
#define H2K_INSPECT_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

enum h2k_os_type { H2K_OS_UNKNOWN = 0, H2K_OS_LINUX, H2K_OS_WINDOWS };
enum h2k_fw { H2K_GUEST_FW_UNKNOWN = 0, H2K_GUEST_FW_BIOS, H2K_GUEST_FW_UEFI };
enum h2k_bootloader {
  H2K_BOOT_UNKNOWN = 0,
  H2K_BOOT_GRUB2,
  H2K_BOOT_GRUB_LEGACY,
  H2K_BOOT_SYSTEMD_BOOT,
  H2K_BOOT_EXTLINUX,
};
enum h2k_initramfs_tool {
  H2K_INITRD_UNKNOWN = 0,
  H2K_INITRD_INITRAMFS_TOOLS, /* Debian, Ubuntu */
  H2K_INITRD_DRACUT,          /* RHEL, Fedora, SUSE */
  H2K_INITRD_MKINITRD,        /* old SUSE / RHEL 5 */
  H2K_INITRD_MKINITCPIO,      /* Arch */
};
enum h2k_net_style {
  H2K_NETCFG_IFUPDOWN = 1 << 0,
  H2K_NETCFG_NETPLAN = 1 << 1,
  H2K_NETCFG_NM = 1 << 2,
  H2K_NETCFG_IFCFG = 1 << 3,
  H2K_NETCFG_NETWORKD = 1 << 4,
  H2K_NETCFG_WICKED = 1 << 5,
  H2K_NETCFG_UDEV_RULES = 1 << 6, /* 70-persistent-net.rules present */
};
enum h2k_selinux {
  H2K_SELINUX_NONE = 0,
  H2K_SELINUX_PERMISSIVE,
  H2K_SELINUX_ENFORCING
};

typedef struct h2k_guest_kernel {
  char *version;   /* "6.1.0-18-amd64" */
  char *initrd;    /* "/boot/initrd.img-6.1.0-18-amd64" or NULL */
  bool virtio_blk; /* module file present or CONFIG_VIRTIO_BLK=y */
  bool virtio_net;
  bool virtio_builtin; /* virtio_blk built into the kernel */
  bool virtio_console; /* module file present or built in */
  bool virtio_rng;     /* (the optional drivers the initramfs gets too) */
  bool initrd_virtio;  /* its initramfs already holds virtio_blk */
  bool is_default;     /* the kernel the bootloader starts */
} h2k_guest_kernel;

typedef struct h2k_guest_identity {
  enum h2k_os_type os_type;
  char *distro; /* libguestfs distro id: "debian", "rhel", ... */
  int major, minor;
  char *product_name; /* "Debian GNU/Linux 12 (bookworm)" */
  char *arch;         /* "x86_64" */
  char *hostname;
  enum h2k_fw firmware;
  enum h2k_bootloader bootloader;
  bool init_systemd;
  unsigned net_styles;   /* enum h2k_net_style bits */
  char *package_format;  /* "deb", "rpm", ... */
  char *package_manager; /* "apt", "dnf", "zypper", ... */
  enum h2k_initramfs_tool initramfs;
  h2k_guest_kernel *kernels;
  size_t n_kernels;
  char *root_device; /* "/dev/sda1" as the appliance names it */
  bool has_lvm, has_luks, has_md;
  bool fstab_unstable;   /* fstab names /dev/sdX, by-path, by-id specs */
  bool cmdline_unstable; /* root=/resume= on the kernel command line too */
  bool device_map_stale; /* GRUB device.map pins a kernel disk name */
  bool vmware_tools;     /* open-vm-tools or vmware-tools installed */
  enum h2k_selinux selinux;
} h2k_guest_identity;

void h2k_identity_free(h2k_guest_identity *id);

#endif
