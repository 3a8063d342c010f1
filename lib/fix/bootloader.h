/* Boot configuration: make the kernel command line name the root and resume
 * devices by stable specs (root=UUID=...) so the guest still finds them when
 * /dev/sda1 becomes /dev/vda1, and stop GRUB from writing kernel disk names.
 *
 * Pure text transforms with the contract of fix/fstab.h: a new malloc'ed
 * text (an identical copy when nothing changes), layout and quoting of the
 * rest kept, idempotent, each changed line logged. `root_dev` (may be NULL)
 * is the guest's root device as inspection found it; it is used for a root=
 * whose device is not in the map (a stale name from the old controller
 * order). `file` is the guest path put in the change log. */
#ifndef H2K_FIX_BOOTLOADER_H
#define H2K_FIX_BOOTLOADER_H

#include <stdbool.h>

#include "fix/fix.h"

/* One kernel command line (or a file holding one, such as
 * /etc/kernel/cmdline: line breaks are kept). root= and resume= values that
 * are kernel disk names or by-path/by-id links become UUID=, PARTUUID= or
 * LABEL= specs; every other argument is kept as written. `line` is the
 * 1-based number the first line gets in the change log. */
char *h2k_fix_kernel_cmdline(const char *cmdline, const h2k_devmap *map,
                             const char *root_dev, const char *file, int line,
                             h2k_changes *log, h2k_error *err);

/* /etc/default/grub: fix root=/resume= inside GRUB_CMDLINE_LINUX and
 * GRUB_CMDLINE_LINUX_DEFAULT (quoting kept), turn GRUB_DISABLE_LINUX_UUID=true
 * into false and comment out GRUB_DEVICE= / GRUB_DEVICE_BOOT= pins to kernel
 * disk names. */
char *h2k_fix_grub_default(const char *text, const h2k_devmap *map,
                           const char *root_dev, h2k_changes *log,
                           h2k_error *err);

/* A generated grub.cfg (or GRUB legacy menu.lst / grub.conf): the arguments
 * of linux, linux16, linuxefi and kernel lines. `search --fs-uuid` and
 * `set root=(hdX,...)` lines are GRUB's own disk addressing and stay. */
char *h2k_fix_grub_cfg(const char *text, const h2k_devmap *map,
                       const char *root_dev, const char *file, h2k_changes *log,
                       h2k_error *err);

/* A Boot Loader Specification entry (/boot/loader/entries/NAME.conf): its
 * `options` lines. An `options $kernelopts` line (RHEL 8) stays; the value
 * lives in grubenv, see h2k_fix_grubenv. */
char *h2k_fix_bls_entry(const char *text, const h2k_devmap *map,
                        const char *root_dev, const char *file,
                        h2k_changes *log, h2k_error *err);

/* extlinux.conf / syslinux.cfg: APPEND lines (any case). */
char *h2k_fix_extlinux_conf(const char *text, const h2k_devmap *map,
                            const char *root_dev, const char *file,
                            h2k_changes *log, h2k_error *err);

/* /boot/grub2/grubenv: the kernelopts= variable. The file is a fixed-size
 * block padded with '#'; the padding is adjusted so the size stays the same
 * (error when the new value does not fit). */
char *h2k_fix_grubenv(const char *text, const h2k_devmap *map,
                      const char *root_dev, const char *file, h2k_changes *log,
                      h2k_error *err);

/* True when a GRUB device.map pins a BIOS drive to a kernel disk name or a
 * by-path/by-id link, e.g. "(hd0) /dev/sda": after the move to virtio-blk
 * that name is wrong and the I/O layer removes the file (GRUB probes the
 * disks itself when it is absent). */
bool h2k_device_map_is_stale(const char *device_map_text);

#endif
