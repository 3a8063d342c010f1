/* INSPECT's own search for a Linux root filesystem, and the block-device
 * scan it starts from. guestfs_inspect_os does the same job for every OS
 * it knows, but it probes each filesystem again, reads fstab through
 * Augeas and asks `file` for the architecture: about 8 s under TCG, where
 * this takes well under 1 s. Windows guests, btrfs roots in subvolumes and
 * anything else this does not recognise still go to guestfs_inspect_os
 * (lib/guest/appliance.c). The decisions are pure functions in
 * lib/inspect/osinfo.c. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "guest/appliance.h"
#include "inspect/osinfo.h"

static void take_all(char ***all, size_t *n, char **v) {
  for (size_t i = 0; v && v[i]; i++)
    h2k_strv_push(all, n, v[i]);
  free(v);
}

static void add_blkdev(h2k_app_storage *st, const char *dev, const char *fstype,
                       char **kv) {
  h2k_blkdev *d = realloc(st->devs, (st->n_devs + 1) * sizeof *d);
  if (!d)
    return;
  st->devs = d;
  d = &st->devs[st->n_devs++];
  memset(d, 0, sizeof *d);
  d->dev = strdup(dev);
  d->fstype = strdup(fstype);
  for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
    if (!strcmp(kv[i], "UUID"))
      d->uuid = strdup(kv[i + 1]);
    else if (!strcmp(kv[i], "PARTUUID"))
      d->partuuid = strdup(kv[i + 1]);
    else if (!strcmp(kv[i], "LABEL"))
      d->label = strdup(kv[i + 1]);
  }
}

/* blkid of one device into the storage list. True when it is an LVM PV. */
static bool probe_device(h2k_appliance *a, const char *dev) {
  h2k_app_storage *st = &a->storage;
  char **kv = guestfs_blkid(a->g, dev);
  const char *type = NULL;
  for (size_t k = 0; kv && kv[k] && kv[k + 1]; k += 2) {
    if (!strcmp(kv[k], "TYPE") && !type)
      type = kv[k + 1];
    else if (!strcmp(kv[k], "PTTYPE") && !strcmp(dev, "/dev/sda") &&
             !st->first_pttype)
      st->first_pttype = strdup(kv[k + 1]);
  }
  /* partition tables, extended partitions and LVM PVs name no
   * filesystem that fstab could mention */
  bool pv = type && !strcmp(type, "LVM2_member");
  if (type && !pv) {
    if (!strcmp(type, "crypto_LUKS"))
      st->has_luks = true;
    add_blkdev(st, dev, type, kv);
  }
  h2k_app_strv_free(kv);
  return pv;
}

/* blkid every device of `devs` (freeing the list); true when one is a
 * PV. */
static bool probe_all(h2k_appliance *a, char **devs, size_t n) {
  bool pv = false;
  for (size_t i = 0; i < n; i++) {
    pv |= probe_device(a, devs[i]);
    free(devs[i]);
  }
  free(devs);
  return pv;
}

int h2k_app_scan_storage(h2k_appliance *a, h2k_error *err) {
  h2k_app_storage *st = &a->storage;
  if (st->devs)
    return 0;
  char **devs = NULL;
  size_t n = 0;
  char **disks = guestfs_list_devices(a->g);
  if (!disks) {
    h2k_err_set(err, H2K_E_STAGE, "cannot list the guest's disks: %s",
                h2k_app_error(a));
    return -1;
  }
  take_all(&devs, &n, disks);
  take_all(&devs, &n, guestfs_list_partitions(a->g));
  char **md = guestfs_list_md_devices(a->g);
  st->has_md = md && md[0];
  take_all(&devs, &n, md);
  /* `lvm lvs` is a process in the appliance: only when there are PVs */
  if (probe_all(a, devs, n)) {
    devs = NULL;
    n = 0;
    char **lvs = guestfs_lvs(a->g);
    st->has_lvm = lvs && lvs[0];
    take_all(&devs, &n, lvs);
    probe_all(a, devs, n);
  }
  if (!st->devs) /* scanned: nothing typed, but not again */
    st->devs = calloc(1, sizeof *st->devs);
  return 0;
}

void h2k_app_storage_free(h2k_app_storage *st) {
  h2k_blkdevs_free(st->devs, st->n_devs);
  free(st->first_pttype);
  memset(st, 0, sizeof *st);
}

/* Filesystems a Linux root can be on. */
static bool root_capable(const char *fstype) {
  static const char *const types[] = {"ext2",   "ext3",    "ext4", "xfs",
                                      "btrfs",  "jfs",     "f2fs", "reiserfs",
                                      "nilfs2", "bcachefs"};
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    if (!strcmp(fstype, types[i]))
      return true;
  return false;
}

/* Mount `dev` read-only on / and return its /etc/fstab when it looks like
 * a Linux root (an /etc directory with an fstab), else NULL. */
static char *root_fstab(h2k_appliance *a, const char *dev) {
  if (guestfs_mount_ro(a->g, dev, "/") < 0) {
    h2k_debug("cannot mount %s to look for a root: %s", dev, h2k_app_error(a));
    return NULL;
  }
  char *fstab = NULL;
  if (h2k_app_is_dir(a, "/etc") && h2k_app_is_file(a, "/etc/fstab")) {
    h2k_error e = {0};
    fstab = h2k_app_read(a, "/etc/fstab", &e);
    h2k_err_clear(&e);
  }
  guestfs_umount_all(a->g);
  return fstab;
}

/* The mounts as a->mountpoints wants them: mountpoint, device pairs. */
static char **mount_pairs(const h2k_mount *m, size_t n) {
  char **v = calloc(2 * n + 1, sizeof *v);
  for (size_t i = 0; v && i < n; i++) {
    v[2 * i] = strdup(m[i].mountpoint);
    v[2 * i + 1] = strdup(m[i].device);
  }
  return v;
}

static int mount_root(h2k_appliance *a, const char *dev, const char *fstab,
                      h2k_error *err) {
  const h2k_app_storage *st = &a->storage;
  h2k_mount *m = NULL;
  char **unres = NULL;
  size_t n_unres = 0;
  size_t n = h2k_fstab_mounts(fstab, st->devs, st->n_devs, a->n_disks, dev, &m,
                              &unres, &n_unres);
  for (size_t i = 0; i < n_unres; i++) {
    h2k_warn("fstab names '%s', which is not on the VM's disks; it is not "
             "mounted for the fixes",
             unres[i]);
    free(unres[i]);
  }
  free(unres);
  a->mountpoints = n ? mount_pairs(m, n) : NULL;
  h2k_mounts_free(m, n);
  a->root = strdup(dev);
  if (!a->mountpoints || !a->root) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  h2k_app_mount_all(a);
  a->native_root = true;
  h2k_debug("Linux root on %s, found by hyper2kvm's own inspection", dev);
  return 1;
}

int h2k_app_mount_linux_root(h2k_appliance *a, h2k_error *err) {
  const h2k_app_storage *st = &a->storage;
  char *root = NULL, *fstab = NULL;
  bool several = false;
  for (size_t i = 0; i < st->n_devs; i++) {
    if (!root_capable(st->devs[i].fstype))
      continue;
    char *t = root_fstab(a, st->devs[i].dev);
    if (!t)
      continue;
    if (!root) {
      root = strdup(st->devs[i].dev);
      fstab = t;
      continue;
    }
    if (!several)
      h2k_warn("the disks hold several operating systems; converting the "
               "one on %s",
               root);
    several = true;
    free(t);
  }
  h2k_app_forget(a); /* what was learnt belongs to other filesystems */
  int rc = root ? mount_root(a, root, fstab, err) : 0;
  free(root);
  free(fstab);
  return rc;
}
