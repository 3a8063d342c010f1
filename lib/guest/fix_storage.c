/* Device names: fstab, crypttab, kernel command lines, GRUB. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "fix/bootloader.h"
#include "fix/fstab.h"
#include "guest/fix_apply.h"

static char *fstab_fn(h2k_fix_ctx *c, const char *path, const char *t,
                      h2k_error *err) {
  (void)path;
  return h2k_fix_fstab(t, &c->map, c->fstab_mode, c->log, err);
}

static char *crypttab_fn(h2k_fix_ctx *c, const char *path, const char *t,
                         h2k_error *err) {
  (void)path;
  return h2k_fix_crypttab(t, &c->map, c->fstab_mode, c->log, err);
}

int h2k_fix_storage_names(h2k_fix_ctx *c, h2k_error *err) {
  if (h2k_fix_guest_file(c, "/etc/fstab", fstab_fn, err) < 0 ||
      h2k_fix_guest_file(c, "/etc/crypttab", crypttab_fn, err) < 0)
    return -1;
  return 0;
}

static const char *root_dev(const h2k_fix_ctx *c) {
  return c->id->root_device;
}

static char *grub_default_fn(h2k_fix_ctx *c, const char *path, const char *t,
                             h2k_error *err) {
  (void)path;
  return h2k_fix_grub_default(t, &c->map, root_dev(c), c->log, err);
}

static char *grub_cfg_fn(h2k_fix_ctx *c, const char *path, const char *t,
                         h2k_error *err) {
  return h2k_fix_grub_cfg(t, &c->map, root_dev(c), path, c->log, err);
}

static char *cmdline_fn(h2k_fix_ctx *c, const char *path, const char *t,
                        h2k_error *err) {
  return h2k_fix_kernel_cmdline(t, &c->map, root_dev(c), path, 1, c->log, err);
}

static char *bls_fn(h2k_fix_ctx *c, const char *path, const char *t,
                    h2k_error *err) {
  return h2k_fix_bls_entry(t, &c->map, root_dev(c), path, c->log, err);
}

static char *extlinux_fn(h2k_fix_ctx *c, const char *path, const char *t,
                         h2k_error *err) {
  return h2k_fix_extlinux_conf(t, &c->map, root_dev(c), path, c->log, err);
}

static char *grubenv_fn(h2k_fix_ctx *c, const char *path, const char *t,
                        h2k_error *err) {
  return h2k_fix_grubenv(t, &c->map, root_dev(c), path, c->log, err);
}

static const char *const grub_cfgs[] = {
    "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", "/boot/grub/menu.lst",
    "/boot/grub/grub.conf", NULL};

static int fix_grub_cfgs(h2k_fix_ctx *c, h2k_error *err) {
  for (size_t i = 0; grub_cfgs[i]; i++)
    if (h2k_fix_guest_file(c, grub_cfgs[i], grub_cfg_fn, err) < 0)
      return -1;
  return 0;
}

static int fix_bls_entries(h2k_fix_ctx *c, const char *dir, h2k_error *err) {
  char **v = h2k_app_ls(c->a, dir);
  int rc = 0;
  for (size_t i = 0; v && v[i] && rc >= 0; i++) {
    size_t l = strlen(v[i]);
    if (l < 6 || strcmp(v[i] + l - 5, ".conf") != 0)
      continue;
    char *p = h2k_path_join(dir, v[i]);
    rc = h2k_fix_guest_file(c, p, bls_fn, err);
    free(p);
  }
  h2k_app_strv_free(v);
  return rc < 0 ? -1 : 0;
}

int h2k_fix_boot_cmdline(h2k_fix_ctx *c, h2k_error *err) {
  static const char *const extlinux[] = {"/boot/extlinux/extlinux.conf",
                                         "/boot/extlinux.conf",
                                         "/boot/syslinux/syslinux.cfg", NULL};
  if (h2k_fix_guest_file(c, "/etc/default/grub", grub_default_fn, err) < 0 ||
      h2k_fix_guest_file(c, "/etc/kernel/cmdline", cmdline_fn, err) < 0 ||
      h2k_fix_guest_file(c, "/boot/grub2/grubenv", grubenv_fn, err) < 0 ||
      fix_bls_entries(c, "/boot/loader/entries", err) < 0 ||
      fix_grub_cfgs(c, err) < 0)
    return -1;
  for (size_t i = 0; extlinux[i]; i++)
    if (h2k_fix_guest_file(c, extlinux[i], extlinux_fn, err) < 0)
      return -1;
  return 0;
}

/* The guest's own grub-mkconfig, then the same name fix on its output: in
 * the appliance grub-probe sees the disks as /dev/sdX, so a guest that
 * still writes device names would get root=/dev/sdX. */
const char *h2k_fix_grub_regen_cmd(h2k_fix_ctx *c) {
  if (h2k_app_is_file(c->a, "/boot/grub/grub.cfg"))
    return h2k_app_is_file(c->a, "/usr/sbin/update-grub")
               ? "update-grub"
               : "grub-mkconfig -o /boot/grub/grub.cfg";
  if (h2k_app_is_file(c->a, "/boot/grub2/grub.cfg"))
    return "grub2-mkconfig -o /boot/grub2/grub.cfg";
  return NULL;
}

int h2k_fix_grub_regen_after(h2k_fix_ctx *c, const char *output,
                             h2k_error *err) {
  h2k_debug("grub-mkconfig: %s", output ? output : "");
  return fix_grub_cfgs(c, err);
}
