/* The libguestfs appliance: one launch per job, on the job's qcow2 overlays
 * (never on the source). A thin layer: every decision about what to change
 * lives in the pure fixers (lib/fix) and the planner (lib/plan). */
#ifndef H2K_GUEST_APPLIANCE_H
#define H2K_GUEST_APPLIANCE_H

#include <guestfs.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "fix/fix.h"

/* The guest's block devices as blkid sees them, scanned once per launch
 * (each blkid costs a fraction of a second under TCG). */
typedef struct h2k_app_storage {
  h2k_blkdev *devs; /* filesystems, swap, LUKS (not PVs, not tables) */
  size_t n_devs;
  bool has_lvm, has_md, has_luks;
  char *first_pttype; /* partition table of /dev/sda: "gpt", "dos" */
} h2k_app_storage;

typedef struct h2k_appliance {
  guestfs_h *g;
  char *root;         /* inspection root device, once mounted */
  char **mountpoints; /* "/", "/dev/sda1", "/boot", ... pairs */
  bool native_root;   /* found by find_root.c, not guestfs_inspect_os */
  char *scratch_dir;  /* host directory for downloads (the job's tmp) */
  size_t n_disks;
  double launch_s;
  h2k_app_storage storage;
  /* Guest files read since the guest last changed: under TCG every read
   * costs a round trip, and the detectors and fixers read the same
   * files. A NULL text records an absent file. */
  struct h2k_app_cached {
    char *path, *text;
  } * cache;
  size_t n_cache;
} h2k_appliance;

/* Launch on `drives` (qcow2 overlays, writable, in disk order).
 * LIBGUESTFS_BACKEND is honoured; without it the direct backend is used,
 * which works without KVM or libvirtd. */
h2k_appliance *h2k_appliance_launch(const char *const *drives, size_t n,
                                    h2k_error *err);

/* Find the operating system and mount its filesystems as the guest does.
 * `native`: look for a Linux root ourselves first (lib/guest/find_root.c)
 * and use guestfs_inspect_os only when there is none (Windows, btrfs
 * subvolume roots, ...). No OS found → H2K_E_STAGE. Several → the first,
 * with a warning. */
int h2k_appliance_mount_os(h2k_appliance *a, bool native, h2k_error *err);

/* Scan the block devices into a->storage (once). */
int h2k_app_scan_storage(h2k_appliance *a, h2k_error *err);

/* Look for Linux roots among a->storage's filesystems; mount the first
 * with the filesystems its /etc/fstab names. Returns 1 when mounted, 0
 * when there is no Linux root, -1 + err on an appliance failure. */
int h2k_app_mount_linux_root(h2k_appliance *a, h2k_error *err);
/* Mount a->mountpoints (pairs), parents first. */
void h2k_app_mount_all(h2k_appliance *a);
void h2k_app_storage_free(h2k_app_storage *s);

/* Unmount, sync and stop the appliance; frees `a`. Returns -1 when the
 * writes may not all have reached the overlays. Safe on NULL. */
int h2k_appliance_close(h2k_appliance *a, h2k_error *err);

/* ---- small helpers on guest paths (absolute, guest view) ---- */

bool h2k_app_is_file(h2k_appliance *a, const char *path);
bool h2k_app_is_dir(h2k_appliance *a, const char *path);
/* The file's content (NUL-terminated, malloc'ed), or NULL with err set. */
char *h2k_app_read(h2k_appliance *a, const char *path, h2k_error *err);
/* The file's content, or NULL when it does not exist (no error). Served
 * from the read cache until the guest changes. */
char *h2k_app_read_opt(h2k_appliance *a, const char *path);
/* Replace the file's content, keeping its mode and owner. */
int h2k_app_write(h2k_appliance *a, const char *path, const char *text,
                  h2k_error *err);
/* The first `max` bytes of a file (fewer when it is shorter) into `buf`;
 * their number, or -1 when it cannot be read. */
long h2k_app_read_head(h2k_appliance *a, const char *path, void *buf,
                       size_t max);
/* Copy a guest file to a host file. */
int h2k_app_download(h2k_appliance *a, const char *path, const char *host_path,
                     h2k_error *err);
/* Entries of a directory (names only), NULL-terminated; NULL when the
 * directory does not exist. Free with h2k_app_strv_free. */
char **h2k_app_ls(h2k_appliance *a, const char *dir);
void h2k_app_strv_free(char **v);
/* Run a shell command inside the guest (chroot), output captured. NULL and
 * err set (with the command's output) when it fails. */
char *h2k_app_sh(h2k_appliance *a, const char *cmd, h2k_error *err);
/* The same for a command that changes nothing in the guest (a listing):
 * what the appliance layer has cached stays valid. */
char *h2k_app_sh_readonly(h2k_appliance *a, const char *cmd, h2k_error *err);

/* One command of h2k_app_sh_parallel: `cmd` in; the rest out. */
typedef struct h2k_app_job {
  const char *cmd;
  bool after;     /* run once all the others have ended, not beside them */
  char *output;   /* stdout + stderr, malloc'ed (may be NULL) */
  int status;     /* exit status, -1 when unknown */
  double seconds; /* measured in the guest; 0 when it could not be */
} h2k_app_job;

/* Run `n` shell commands at once inside the guest (chroot), in one guest
 * shell that waits for all of them, so that the appliance's vCPUs run two
 * long guest tools side by side. (Not a command left in the background:
 * libguestfs mounts /proc, /dev and /sys for the guest only while a
 * command call lasts.) Jobs marked `after` run then, one by one, in the
 * same call (each guest command call costs about a second under TCG).
 * Returns 0 when the shell ran (each job's status
 * says how its command did), -1 + err when it could not. */
int h2k_app_sh_parallel(h2k_appliance *a, h2k_app_job *jobs, size_t n,
                        h2k_error *err);
void h2k_app_jobs_free(h2k_app_job *jobs, size_t n);

/* Forget cached reads: call after changing the guest other than through
 * h2k_app_write/h2k_app_sh/h2k_app_sh_parallel (which do it). */
void h2k_app_forget(h2k_appliance *a);

/* The last libguestfs error message. */
const char *h2k_app_error(h2k_appliance *a);

#endif
