/* INSPECT through libguestfs: fill a GuestIdentity and the block-device
 * facts the fixers need, from the mounted guest. */
#ifndef H2K_GUEST_INSPECT_H
#define H2K_GUEST_INSPECT_H

#include "fix/fix.h"
#include "guest/appliance.h"
#include "inspect/identity.h"

/* Block devices as blkid sees them in the appliance, and the source VM's
 * by-path / by-id names resolved to them. */
typedef struct h2k_guest_storage {
  h2k_blkdev *devs;
  size_t n_devs;
  char **alias, **target;
  size_t n_alias;
} h2k_guest_storage;

/* Inspect the guest mounted in `a` (h2k_appliance_mount_os done).
 * `n_disks` is the number of disks attached. */
int h2k_guest_inspect(h2k_appliance *a, size_t n_disks, h2k_guest_identity *id,
                      h2k_guest_storage *st, h2k_error *err);

/* A devmap view of `st` (valid while st lives). */
void h2k_guest_storage_devmap(const h2k_guest_storage *st, h2k_devmap *map);
void h2k_guest_storage_free(h2k_guest_storage *st);

#endif
