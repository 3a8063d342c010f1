/* Initramfs: virtio drivers into the guest's own generator config, then the
 * guest's own tool rebuilds the boot kernel's initramfs, then we list the
 * result and refuse to go on without virtio_blk. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "fix/initramfs.h"
#include "guest/fix_apply.h"

static char *itools_fn(h2k_fix_ctx *c, const char *path, const char *t,
                       h2k_error *err) {
  (void)path;
  return h2k_fix_initramfs_tools_modules(t, h2k_virtio_modules,
                                         h2k_n_virtio_modules, c->log, err);
}

static char *mkinitcpio_fn(h2k_fix_ctx *c, const char *path, const char *t,
                           h2k_error *err) {
  (void)path;
  return h2k_fix_mkinitcpio_conf(t, h2k_virtio_modules, h2k_n_virtio_modules,
                                 c->log, err);
}

static char *suse_kernel_fn(h2k_fix_ctx *c, const char *path, const char *t,
                            h2k_error *err) {
  (void)path;
  return h2k_fix_suse_sysconfig_kernel(t, h2k_virtio_modules,
                                       h2k_n_virtio_modules, c->log, err);
}

/* Create `path` with the output of `fn` on an empty text when missing. */
static int fix_or_create(h2k_fix_ctx *c, const char *path, h2k_text_fix fn,
                         h2k_error *err) {
  if (h2k_app_is_file(c->a, path))
    return h2k_fix_guest_file(c, path, fn, err) < 0 ? -1 : 0;
  char *out = fn(c, path, "", err);
  int rc = out ? h2k_app_write(c->a, path, out, err) : -1;
  free(out);
  return rc;
}

static int dracut_conf(h2k_fix_ctx *c, h2k_error *err) {
  char *old = h2k_app_read_opt(c->a, H2K_DRACUT_CONF_PATH);
  char *out = h2k_fix_dracut_conf(old, h2k_virtio_modules, h2k_n_virtio_modules,
                                  c->log, err);
  int rc = -1;
  if (out) {
    rc = old && !strcmp(old, out)
             ? 0
             : h2k_app_write(c->a, H2K_DRACUT_CONF_PATH, out, err);
  }
  free(old);
  free(out);
  return rc;
}

int h2k_fix_initramfs_config(h2k_fix_ctx *c, h2k_error *err) {
  switch (c->id->initramfs) {
  case H2K_INITRD_INITRAMFS_TOOLS:
    return fix_or_create(c, "/etc/initramfs-tools/modules", itools_fn, err);
  case H2K_INITRD_DRACUT:
    if (h2k_fix_guest_file(c, "/etc/sysconfig/kernel", suse_kernel_fn, err) < 0)
      return -1;
    return dracut_conf(c, err);
  case H2K_INITRD_MKINITCPIO:
    return h2k_fix_guest_file(c, "/etc/mkinitcpio.conf", mkinitcpio_fn, err) < 0
               ? -1
               : 0;
  case H2K_INITRD_MKINITRD:
    return h2k_fix_guest_file(c, "/etc/sysconfig/kernel", suse_kernel_fn, err) <
                   0
               ? -1
               : 0;
  case H2K_INITRD_UNKNOWN:
    break;
  }
  return 0;
}

static const h2k_guest_kernel *boot_kernel(const h2k_guest_identity *id) {
  for (size_t i = 0; i < id->n_kernels; i++)
    if (id->kernels[i].is_default)
      return &id->kernels[i];
  return id->n_kernels ? &id->kernels[0] : NULL;
}

/* The rebuild command and the listing command for kernel `k`. */
static void commands_for(const h2k_fix_ctx *c, const h2k_guest_kernel *k,
                         const char *initrd, char **build, char **list) {
  const char *v = k->version;
  switch (c->id->initramfs) {
  case H2K_INITRD_INITRAMFS_TOOLS:
    *build = h2k_strdup_printf("update-initramfs %s -k '%s'",
                               k->initrd ? "-u" : "-c", v);
    *list = h2k_strdup_printf("lsinitramfs '%s'", initrd);
    break;
  case H2K_INITRD_DRACUT:
    *build = h2k_strdup_printf("dracut -f '%s' '%s'", initrd, v);
    *list = h2k_strdup_printf("lsinitrd '%s'", initrd);
    break;
  case H2K_INITRD_MKINITCPIO:
    *build = strdup("mkinitcpio -P");
    *list = h2k_strdup_printf("lsinitcpio '%s'", initrd);
    break;
  case H2K_INITRD_MKINITRD:
    *build = h2k_strdup_printf("mkinitrd -k 'vmlinuz-%s' -i '%s'", v, initrd);
    *list = h2k_strdup_printf("lsinitrd '%s'", initrd);
    break;
  case H2K_INITRD_UNKNOWN:
    *build = *list = NULL;
    break;
  }
}

static char *default_initrd(const h2k_fix_ctx *c, const char *v) {
  return c->id->initramfs == H2K_INITRD_INITRAMFS_TOOLS
             ? h2k_strdup_printf("/boot/initrd.img-%s", v)
             : h2k_strdup_printf("/boot/initramfs-%s.img", v);
}

static int verify_initrd(h2k_fix_ctx *c, const h2k_guest_kernel *k,
                         const char *list_cmd, h2k_error *err) {
  char *listing = h2k_app_sh(c->a, list_cmd, err);
  if (!listing) {
    h2k_err_wrap(err, "cannot list the new initramfs of %s", k->version);
    return -1;
  }
  char *cfg_path = h2k_strdup_printf("/boot/config-%s", k->version);
  char *cfg = cfg_path ? h2k_app_read_opt(c->a, cfg_path) : NULL;
  int rc = h2k_initramfs_check_virtio(listing, cfg, k->version, err);
  if (rc == 0)
    h2k_info("initramfs of %s contains virtio_blk", k->version);
  free(cfg);
  free(cfg_path);
  free(listing);
  return rc;
}

/* The boot kernel's rebuild: started in the background, so that GRUB's
 * regeneration can run on the appliance's other vCPU meanwhile. */
typedef struct {
  const h2k_guest_kernel *k;
  char *build, *list, *why;
  double t0;
} regen_job;

static void regen_job_free(regen_job *j) {
  free(j->build);
  free(j->list);
  free(j->why);
  free(j);
}

void *h2k_fix_initramfs_regen_start(h2k_fix_ctx *c, h2k_error *err) {
  regen_job *j = calloc(1, sizeof *j);
  if (!j) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return NULL;
  }
  j->k = boot_kernel(c->id);
  if (!j->k)
    return j; /* nothing to rebuild */
  char *initrd =
      j->k->initrd ? strdup(j->k->initrd) : default_initrd(c, j->k->version);
  commands_for(c, j->k, initrd, &j->build, &j->list);
  free(initrd);
  j->why = h2k_strdup_printf("rebuild the initramfs of %s with the virtio "
                             "drivers",
                             j->k->version);
  if (!j->build || !j->list || !j->why) {
    h2k_err_set(err, H2K_E_STAGE, "no known initramfs tool for %s",
                j->k->version);
    regen_job_free(j);
    return NULL;
  }
  h2k_info("running '%s' in the guest (background)", j->build);
  j->t0 = h2k_now_monotonic();
  if (h2k_app_spawn(c->a, "initramfs", j->build, err) < 0) {
    regen_job_free(j);
    return NULL;
  }
  return j;
}

int h2k_fix_initramfs_regen_finish(h2k_fix_ctx *c, void *job, h2k_error *err) {
  regen_job *j = job;
  if (!j->k) {
    regen_job_free(j);
    return 0;
  }
  double secs = 0;
  char *out = h2k_app_wait(c->a, "initramfs", j->build, &secs, err);
  int rc = -1;
  if (out) {
    if (secs <= 0) /* the guest could not time it */
      secs = h2k_now_monotonic() - j->t0;
    h2k_changes_add(c->log, "(command)", 0, NULL, j->build, "%s (%.0f s)",
                    j->why, secs);
    h2k_debug("%s", out);
    free(out);
    rc = verify_initrd(c, j->k, j->list, err);
  }
  regen_job_free(j);
  return rc;
}

int h2k_fix_initramfs_regen(h2k_fix_ctx *c, h2k_error *err) {
  void *job = h2k_fix_initramfs_regen_start(c, err);
  return job ? h2k_fix_initramfs_regen_finish(c, job, err) : -1;
}
