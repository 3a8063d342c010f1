/* Linux OS facts from the guest's own files, as pure functions: which
 * distribution and version (/etc/os-release, release files), which CPU
 * architecture (an ELF header), the hostname, and which filesystems
 * /etc/fstab mounts where. INSPECT reads the files through the appliance
 * (lib/guest/find_root.c) and hands the text here. */
#ifndef H2K_INSPECT_OSINFO_H
#define H2K_INSPECT_OSINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fix/fix.h"

typedef struct h2k_osinfo {
  char *distro;       /* libguestfs-style id: "debian", "rhel", "sles", ... */
  int major, minor;   /* 0 when unknown */
  char *product_name; /* PRETTY_NAME, or the release file's line */
} h2k_osinfo;

/* Fill `out` from os-release text (ID, VERSION_ID, PRETTY_NAME). Returns
 * true when it names a distribution. Fields already set are kept. */
bool h2k_os_release_parse(const char *text, h2k_osinfo *out);

/* Fill `out` from an older release file: /etc/redhat-release ("CentOS
 * Linux release 7.9.2009 (Core)"), /etc/SuSE-release, /etc/debian_version
 * ("12.5"), ... `path` says which one. Returns true when it told
 * something. Fields already set are kept, except a zero version. */
bool h2k_release_file_parse(const char *path, const char *text,
                            h2k_osinfo *out);

void h2k_osinfo_free(h2k_osinfo *o);

/* "12.5" → 12, 5; "7.9.2009" → 7, 9; "22.04" → 22, 4; "12" → 12, 0.
 * False when `s` does not start with a number. */
bool h2k_version_parse(const char *s, int *major, int *minor);

/* The architecture an ELF header (the file's first bytes) was built for,
 * in libguestfs' words ("x86_64", "i386", "aarch64", ...), or NULL. */
const char *h2k_elf_arch(const uint8_t *hdr, size_t n);

/* The host name in /etc/hostname (first word that is not a comment), or in
 * an /etc/sysconfig/network style file (HOSTNAME=...). Malloc'ed or NULL. */
char *h2k_hostname_parse(const char *text, bool sysconfig_style);

/* One filesystem the guest mounts: where, and which appliance device. */
typedef struct h2k_mount {
  char *mountpoint; /* "/", "/boot", ... */
  char *device;     /* "/dev/sda1", "/dev/vg0/root", ... */
} h2k_mount;

/* Resolve /etc/fstab to appliance devices: UUID=, LABEL=, PARTUUID= and
 * /dev/disk/by-{uuid,label,partuuid}/ through blkid's view in `devs`;
 * /dev/disk/by-path and by-id links through the disk order (`n_disks`);
 * /dev/mapper/VG-LV as /dev/VG/LV; /dev/sdX, vdX, hdX, xvdX as the
 * appliance's /dev/sdX. Swap, pseudo, network and bind mounts are left
 * out, and so are entries whose device is not on these disks (their spec
 * goes to `*unresolved`, for a warning). The list is sorted by mountpoint,
 * parents first, and starts with "/" on `root`, whatever fstab says.
 * Returns the number of mounts (≥ 1) or 0 on out-of-memory. */
size_t h2k_fstab_mounts(const char *fstab, const h2k_blkdev *devs,
                        size_t n_devs, size_t n_disks, const char *root,
                        h2k_mount **mounts, char ***unresolved,
                        size_t *n_unresolved);
void h2k_mounts_free(h2k_mount *m, size_t n);

#endif
