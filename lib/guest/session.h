/* One guest session per job: each source disk is exported read-only over
 * NBD from our own image engine (so the appliance reads every format we
 * read, in place, OVA members included), a qcow2 overlay on top of each
 * export takes every write, and one libguestfs appliance runs on the
 * overlays. CONVERT later reads overlay + source chain directly. */
#ifndef H2K_GUEST_SESSION_H
#define H2K_GUEST_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "guest/appliance.h"
#include "image/image.h"
#include "nbd/nbd_server.h"

typedef struct h2k_guest_session {
  size_t n;
  char **overlays; /* one qcow2 per disk, in `overlay_dir` */
  h2k_nbd_server **nbd;
  char *sock_dir; /* short private directory for the sockets */
  h2k_appliance *app;
} h2k_guest_session;

/* Export `disks`, create the overlays in `overlay_dir`, launch the
 * appliance and mount the guest's OS (`native_inspect`: see
 * h2k_appliance_mount_os). On failure everything started is stopped
 * again. */
int h2k_guest_session_open(h2k_guest_session *s, h2k_image *const *disks,
                           size_t n, const char *overlay_dir,
                           bool native_inspect, h2k_error *err);

/* Shut the appliance down (flushing every write into the overlays), stop
 * the exports. The overlays stay (CONVERT reads them); `remove_overlays`
 * deletes them too. Safe to call twice. */
int h2k_guest_session_close(h2k_guest_session *s, bool remove_overlays,
                            h2k_error *err);

#endif
