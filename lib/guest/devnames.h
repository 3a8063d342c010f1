/* Guest device names the source hypervisor gave, mapped to the names the
 * appliance sees. Pure functions, unit-tested. */
#ifndef H2K_GUEST_DEVNAMES_H
#define H2K_GUEST_DEVNAMES_H

#include <stddef.h>

/* Every "/dev/disk/by-path/..." and "/dev/disk/by-id/..." name in `text`
 * (fstab, crypttab, kernel command lines), each once, in order of first
 * appearance. Appended to *v (NULL-terminated list of *n entries). */
void h2k_find_disk_links(const char *text, char ***v, size_t *n);

/* The appliance device a by-path / by-id link of the source VM meant:
 * "/dev/sdXN" for partition N of disk X, or NULL when it cannot be told.
 * The disk is the SCSI target of a by-path name ("...-scsi-0:0:T:0") or
 * the only disk; by-id names (serials unknown here) only resolve with one
 * disk. LVM, md and dm by-id names are not disks: NULL. Malloc'ed. */
char *h2k_resolve_disk_link(const char *link, size_t n_disks);

#endif
