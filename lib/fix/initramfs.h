/* Initramfs: make the guest's own initramfs generator include the virtio
 * drivers (a VMware guest's host-only initramfs carries vmw_pvscsi or
 * mptspi, not virtio_blk, and then cannot find its root disk on KVM), and
 * check the result.
 *
 * The config edits are pure text transforms with the contract of
 * fix/fstab.h: a new malloc'ed text (an identical copy when nothing
 * changes), existing entries, their order and comments kept, idempotent,
 * each change logged. Module names compare with '-' and '_' as equal, as
 * modprobe does. Added lines are logged with their line number in the new
 * text. */
#ifndef H2K_FIX_INITRAMFS_H
#define H2K_FIX_INITRAMFS_H

#include <stdbool.h>
#include <stddef.h>

#include "fix/fix.h"

/* The drivers a KVM guest needs for its disks and NIC. */
extern const char *const h2k_virtio_modules[];
extern const size_t h2k_n_virtio_modules;

#define H2K_DRACUT_CONF_PATH "/etc/dracut.conf.d/hyper2kvm-virtio.conf"

/* /etc/initramfs-tools/modules (Debian, Ubuntu): append the missing modules,
 * one a line, after a comment saying who added them.
 *
 * /etc/initramfs-tools/initramfs.conf is deliberately left alone: MODULES=
 * most, dep and list all load the modules listed in this file, so listing
 * the virtio drivers here is enough whatever the user chose, and the user's
 * size/host-only choice survives the conversion. */
char *h2k_fix_initramfs_tools_modules(const char *text, const char *const *mods,
                                      size_t n, h2k_changes *log,
                                      h2k_error *err);

/* The content of H2K_DRACUT_CONF_PATH: `existing` is its current text or
 * NULL when the file does not exist. Drivers already named by an
 * add_drivers or force_drivers line there are not repeated. */
char *h2k_fix_dracut_conf(const char *existing, const char *const *mods,
                          size_t n, h2k_changes *log, h2k_error *err);

/* /etc/mkinitcpio.conf (Arch): merge into the last MODULES=(...) array,
 * keeping its entries and order (also the old MODULES="..." form); add a
 * MODULES=(...) line when there is none. */
char *h2k_fix_mkinitcpio_conf(const char *text, const char *const *mods,
                              size_t n, h2k_changes *log, h2k_error *err);

/* /etc/sysconfig/kernel (SUSE): merge into INITRD_MODULES="...", which the
 * SUSE mkinitrd reads. Where SUSE builds with plain dracut the dracut
 * drop-in above is what counts, so the I/O layer writes both. */
char *h2k_fix_suse_sysconfig_kernel(const char *text, const char *const *mods,
                                    size_t n, h2k_changes *log, h2k_error *err);

/* ---- checks on the result ---- */

enum {
  H2K_INITRD_VIRTIO_BLK = 1 << 0,
  H2K_INITRD_VIRTIO_PCI = 1 << 1,
  H2K_INITRD_VIRTIO_SCSI = 1 << 2,
  H2K_INITRD_VIRTIO_NET = 1 << 3,
};

/* Which virtio driver files (NAME.ko, .ko.xz, .ko.zst, .ko.gz) a listing of
 * an initramfs holds: the output of `lsinitramfs IMG` (one path a line) or
 * `lsinitrd IMG` (ls -l style lines after a header). */
unsigned h2k_initramfs_virtio_modules(const char *listing);

/* True when the listing holds virtio_blk. */
bool h2k_initramfs_has_virtio(const char *listing);

/* A /boot/config-VERSION file: 'y' (built in), 'm' (module) or 0 (not set)
 * for `symbol`, given with or without its CONFIG_ prefix. */
int h2k_kernel_config_has(const char *config_text, const char *symbol);

/* The FIX stage's verdict for one kernel after regeneration: 0 when
 * virtio_blk and virtio_pci are each in the initramfs or built into the
 * kernel, else -1 with an H2K_E_STAGE error naming what is missing.
 * `config_text` may be NULL (then only virtio_blk is required, since
 * virtio_pci may be built in). */
int h2k_initramfs_check_virtio(const char *listing, const char *config_text,
                               const char *kver, h2k_error *err);

#endif
