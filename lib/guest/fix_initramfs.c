/* Initramfs: virtio drivers into the guest's own generator config, then the
 * guest's own tool rebuilds the boot kernel's initramfs, then we list the
 * result and refuse to go on without virtio_blk. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "fix/initramfs.h"
#include "guest/fix_apply.h"
#include "guest/initrd_read.h"

static const h2k_guest_kernel *boot_kernel(const h2k_guest_identity *id);

/* The drivers to add: the four every KVM guest needs, plus virtio_console
 * and virtio_rng when the boot kernel has them. */
static size_t modules_for(const h2k_fix_ctx *c, const char *mods[6]) {
  size_t n = 0;
  for (size_t i = 0; i < h2k_n_virtio_modules && n < 4; i++)
    mods[n++] = h2k_virtio_modules[i];
  const h2k_guest_kernel *k = boot_kernel(c->id);
  if (k && k->virtio_console)
    mods[n++] = "virtio_console";
  if (k && k->virtio_rng)
    mods[n++] = "virtio_rng";
  return n;
}

static char *itools_fn(h2k_fix_ctx *c, const char *path, const char *t,
                       h2k_error *err) {
  (void)path;
  const char *mods[6];
  size_t n = modules_for(c, mods);
  return h2k_fix_initramfs_tools_modules(t, mods, n, c->log, err);
}

static char *mkinitcpio_fn(h2k_fix_ctx *c, const char *path, const char *t,
                           h2k_error *err) {
  (void)path;
  const char *mods[6];
  size_t n = modules_for(c, mods);
  return h2k_fix_mkinitcpio_conf(t, mods, n, c->log, err);
}

static char *suse_kernel_fn(h2k_fix_ctx *c, const char *path, const char *t,
                            h2k_error *err) {
  (void)path;
  const char *mods[6];
  size_t n = modules_for(c, mods);
  return h2k_fix_suse_sysconfig_kernel(t, mods, n, c->log, err);
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
  const char *mods[6];
  size_t n = modules_for(c, mods);
  char *out = h2k_fix_dracut_conf(old, mods, n, c->log, err);
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
    /* COMPRESSLEVEL only applies when the guest's initramfs.conf sets
     * none (the conf files are read after the environment). Level 3
     * instead of mkinitramfs' default 9 for zstd and lz4: under TCG the
     * rebuild takes 54 s instead of 61 s for a 10% larger image (measured
     * in docs/PERFORMANCE.md); the guest's next rebuild uses its own
     * setting again. */
    *build = h2k_strdup_printf("COMPRESSLEVEL=3 update-initramfs %s -k '%s'",
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
                         const char *initrd, const char *list_cmd,
                         h2k_error *err) {
  char *listing = h2k_guest_list_initrd(c->a, initrd, list_cmd, err);
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

int h2k_fix_initramfs_regen_prepare(h2k_fix_ctx *c, h2k_initramfs_regen *r,
                                    h2k_error *err) {
  memset(r, 0, sizeof *r);
  r->k = boot_kernel(c->id);
  if (!r->k)
    return 0; /* nothing to rebuild */
  char *initrd =
      r->k->initrd ? strdup(r->k->initrd) : default_initrd(c, r->k->version);
  commands_for(c, r->k, initrd, &r->build, &r->list);
  r->initrd = initrd;
  r->why = h2k_strdup_printf("rebuild the initramfs of %s with the virtio "
                             "drivers",
                             r->k->version);
  if (!r->build || !r->list || !r->why) {
    h2k_err_set(err, H2K_E_STAGE, "no known initramfs tool for %s",
                r->k->version);
    h2k_initramfs_regen_free(r);
    return -1;
  }
  return 0;
}

int h2k_fix_initramfs_regen_verify(h2k_fix_ctx *c, h2k_initramfs_regen *r,
                                   h2k_error *err) {
  return r->k ? verify_initrd(c, r->k, r->initrd, r->list, err) : 0;
}

void h2k_initramfs_regen_free(h2k_initramfs_regen *r) {
  free(r->build);
  free(r->list);
  free(r->initrd);
  free(r->why);
  memset(r, 0, sizeof *r);
}
