/* Guest fixes as pure text transforms.
 *
 * Each fixer is a pure function: (file text, facts about the guest's block
 * devices and NICs, options) -> new text + a change log. The thin I/O step
 * that reads and writes guest files through libguestfs lives elsewhere, so
 * every transform is unit-tested without an appliance. A transform returns
 * the input unchanged when there is nothing to do; running it on its own
 * output changes nothing (idempotent). */
#ifndef H2K_FIX_FIX_H
#define H2K_FIX_FIX_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

/* One block device (or LV / md / mapper device) as blkid sees it. */
typedef struct h2k_blkdev {
  const char *dev;      /* "/dev/sda1", "/dev/mapper/vg0-root" */
  const char *uuid;     /* filesystem UUID or NULL */
  const char *partuuid; /* GPT/MBR partition UUID or NULL */
  const char *label;    /* filesystem label or NULL */
  const char *fstype;   /* "ext4", "swap", "xfs", "crypto_LUKS", ... */
} h2k_blkdev;

/* What the guest's storage looks like, as seen from the appliance. */
typedef struct h2k_devmap {
  const h2k_blkdev *devs;
  size_t n_devs;
  /* Names the source hypervisor used that resolve to a device above
   * (from the guest's own /dev/disk/by-path, by-id symlink targets or
   * from the disk order): alias[i] -> target[i]. e.g.
   * "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:1:0-part2" -> "/dev/sda2" */
  const char *const *alias;
  const char *const *target;
  size_t n_alias;
} h2k_devmap;

/* One changed line, for the report (before/after). */
typedef struct h2k_change {
  char *file;   /* guest path, e.g. "/etc/fstab" */
  int line;     /* 1-based line in the original text, 0 if not line-based */
  char *before; /* removed text (NULL for pure additions) */
  char *after;  /* new text (NULL for removals) */
  char *reason; /* "stable ID for /dev/sda1", "MAC pinning removed", ... */
} h2k_change;

typedef struct h2k_changes {
  h2k_change *items;
  size_t n;
} h2k_changes;

void h2k_changes_add(h2k_changes *c, const char *file, int line,
                     const char *before, const char *after,
                     const char *reason_fmt, ...)
    __attribute__((format(printf, 6, 7)));
void h2k_changes_free(h2k_changes *c);

/* Free a list of blkdevs and the strings they own. */
void h2k_blkdevs_free(h2k_blkdev *devs, size_t n);
/* A deep copy of `n` blkdevs (NULL when out of memory). */
h2k_blkdev *h2k_blkdevs_copy(const h2k_blkdev *devs, size_t n);

/* The stable spec for a device: "UUID=...", else "PARTUUID=...", else
 * "LABEL=...", or NULL when it has none. Resolves aliases first. Returns a
 * malloc'ed string. */
char *h2k_stable_spec(const h2k_devmap *map, const char *dev);

#endif
