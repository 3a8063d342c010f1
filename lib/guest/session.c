#include "guest/session.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/proc.h"
#include "core/util.h"

/* Socket paths must fit in sun_path (108 bytes): a short directory of our
 * own under /tmp rather than the (possibly long) job directory. */
static int make_sock_dir(h2k_guest_session *s, h2k_error *err) {
  char tmpl[] = "/tmp/h2k-nbd.XXXXXX";
  if (!mkdtemp(tmpl)) {
    h2k_err_errno(err, H2K_E_ENV, errno,
                  "cannot create a socket directory "
                  "in /tmp");
    return -1;
  }
  s->sock_dir = strdup(tmpl);
  return 0;
}

static int create_overlay(const char *path, const char *backing_uri,
                          uint64_t size, h2k_error *err) {
  char sz[32];
  snprintf(sz, sizeof sz, "%" PRIu64, size);
  unlink(path);
  /* -u: do not open the backing file now; the sizes are known. */
  const char *argv[] = {"qemu-img",  "create", "-q",  "-f", "qcow2", "-u", "-b",
                        backing_uri, "-F",     "raw", path, sz,      NULL};
  if (h2k_proc_run(argv, NULL, err) < 0) {
    h2k_err_wrap(err, "cannot create the overlay '%s'", path);
    return -1;
  }
  return 0;
}

static int export_disk(h2k_guest_session *s, size_t i, h2k_image *img,
                       const char *overlay_dir, h2k_error *err) {
  char *sock = h2k_strdup_printf("%s/disk%zu.sock", s->sock_dir, i);
  s->nbd[i] = sock ? h2k_nbd_serve(img, sock, err) : NULL;
  free(sock);
  if (!s->nbd[i])
    return -1;
  char leaf[64];
  snprintf(leaf, sizeof leaf, "overlay-disk%zu.qcow2", i);
  s->overlays[i] = h2k_path_join(overlay_dir, leaf);
  return create_overlay(s->overlays[i], h2k_nbd_uri(s->nbd[i]),
                        h2k_image_virtual_size(img), err);
}

int h2k_guest_session_open(h2k_guest_session *s, h2k_image *const *disks,
                           size_t n, const char *overlay_dir,
                           bool native_inspect, h2k_error *err) {
  memset(s, 0, sizeof *s);
  s->n = n;
  s->overlays = calloc(n ? n : 1, sizeof *s->overlays);
  s->nbd = calloc(n ? n : 1, sizeof *s->nbd);
  if (!s->overlays || !s->nbd) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    goto fail;
  }
  if (make_sock_dir(s, err) < 0)
    goto fail;
  for (size_t i = 0; i < n; i++)
    if (export_disk(s, i, disks[i], overlay_dir, err) < 0)
      goto fail;
  s->app = h2k_appliance_launch((const char *const *)s->overlays, n, err);
  if (!s->app)
    goto fail;
  s->app->scratch_dir = strdup(overlay_dir);
  if (h2k_appliance_mount_os(s->app, native_inspect, err) < 0)
    goto fail;
  return 0;
fail:
  h2k_guest_session_close(s, true, NULL);
  return -1;
}

int h2k_guest_session_close(h2k_guest_session *s, bool remove_overlays,
                            h2k_error *err) {
  h2k_error local = {0};
  int rc = h2k_appliance_close(s->app, err ? err : &local);
  h2k_err_clear(&local);
  s->app = NULL;
  for (size_t i = 0; s->nbd && i < s->n; i++) {
    h2k_nbd_stop(s->nbd[i]);
    s->nbd[i] = NULL;
  }
  free(s->nbd);
  s->nbd = NULL;
  if (s->sock_dir) {
    rmdir(s->sock_dir);
    free(s->sock_dir);
    s->sock_dir = NULL;
  }
  for (size_t i = 0; s->overlays && i < s->n; i++) {
    if (remove_overlays && s->overlays[i])
      unlink(s->overlays[i]);
    free(s->overlays[i]);
  }
  free(s->overlays);
  s->overlays = NULL;
  return rc;
}
