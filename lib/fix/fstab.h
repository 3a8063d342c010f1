/* /etc/fstab and /etc/crypttab: replace device names that change when the
 * disks move from VMware controllers to virtio-blk (/dev/sda1 becomes
 * /dev/vda1, by-path and by-id names change with the bus) by stable specs
 * (UUID=, else PARTUUID=, else LABEL=).
 *
 * Pure text transforms: comments, blank lines, the layout of untouched lines
 * and the separators around the rewritten field are kept byte for byte. The
 * result is a new malloc'ed text (an identical copy when nothing changes);
 * NULL with `err` set on failure. Running a transform on its own output
 * changes nothing. */
#ifndef H2K_FIX_FSTAB_H
#define H2K_FIX_FSTAB_H

#include <stdbool.h>
#include <stddef.h>

#include "fix/fix.h"

enum h2k_fstab_mode {
  /* Every kernel disk name (/dev/sdX, hdX, vdX, xvdX, nvme*, cciss) and
   * every /dev/disk/by-path, by-id spec becomes a stable spec. */
  H2K_FSTAB_STABILIZE_ALL = 0,
  /* Only /dev/disk/by-path and /dev/disk/by-id specs. */
  H2K_FSTAB_BYPATH_ONLY,
  /* Leave the file alone. */
  H2K_FSTAB_NOOP,
};

/* "stabilize-all", "bypath-only", "noop". Returns 0, or -1 for other text. */
int h2k_fstab_mode_parse(const char *s, enum h2k_fstab_mode *out);
const char *h2k_fstab_mode_name(enum h2k_fstab_mode mode);

/* Rewrite the first field (fs_spec) of each mount line of /etc/fstab.
 * Already stable specs (UUID=, LABEL=, PARTUUID=, PARTLABEL=,
 * /dev/disk/by-uuid/...), /dev/mapper/..., /dev/mdN, LVM /dev/VG/LV names,
 * pseudo and network filesystems are left as they are. A device without any
 * stable ID is kept and logged with a "no stable ID" reason (before and
 * after both hold the unchanged line). */
char *h2k_fix_fstab(const char *text, const h2k_devmap *map,
                    enum h2k_fstab_mode mode, h2k_changes *log, h2k_error *err);

/* The same for the second field (the encrypted device) of /etc/crypttab. */
char *h2k_fix_crypttab(const char *text, const h2k_devmap *map,
                       enum h2k_fstab_mode mode, h2k_changes *log,
                       h2k_error *err);

/* ---- Helpers shared by the storage and boot fixers ---- */

/* Whether `spec` is a device name that `mode` rewrites: a kernel disk or
 * partition name, or a by-path / by-id link (LVM, md and dm by-id links
 * excepted). Surrounding double quotes are ignored. */
bool h2k_dev_is_unstable(const char *spec, enum h2k_fstab_mode mode);

/* Called once per line (without its line break; a trailing CR is kept out of
 * `line` too). Returns NULL to keep the line, or a malloc'ed replacement.
 * Set *failed (out of memory) to abort the edit. */
typedef char *(*h2k_line_edit_fn)(const char *line, int lineno, void *ctx,
                                  bool *failed);

/* Apply `fn` to every line of `text`, keeping line breaks (LF or CRLF) and
 * a missing final line break. Returns the new malloc'ed text. */
char *h2k_fix_edit_lines(const char *text, h2k_line_edit_fn fn, void *ctx,
                         h2k_error *err);

/* Find the whitespace-separated field number `idx` (0-based) of `line`.
 * Returns false when the line has fewer fields. */
bool h2k_field_span(const char *line, int idx, size_t *start, size_t *len);

/* Kernel-provided filesystems (proc, sysfs, tmpfs, ...): their spec is a
 * dummy word, never a disk. */
bool h2k_fstype_is_pseudo(const char *type);

/* A copy of `line` with [start, start+len) replaced by `with`. */
char *h2k_splice(const char *line, size_t start, size_t len, const char *with);

#endif
