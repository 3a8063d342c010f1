/* Network configuration: MAC pinning and VMware interface names, in every
 * configuration style the guest has. The first NIC's name under KVM is the
 * one libvirt's q35 layout gives it (first PCIe root port: enp1s0), which
 * VALIDATE's qemu command line mirrors. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "fix/network.h"
#include "guest/fix_apply.h"

static char *udev_fn(h2k_fix_ctx *c, const char *path, const char *t,
                     h2k_error *err) {
  return h2k_fix_udev_persistent_net(t, &c->net, path, c->log, err);
}
static char *ifupdown_fn(h2k_fix_ctx *c, const char *path, const char *t,
                         h2k_error *err) {
  return h2k_fix_ifupdown(t, &c->net, path, c->log, err);
}
static char *netplan_fn(h2k_fix_ctx *c, const char *path, const char *t,
                        h2k_error *err) {
  return h2k_fix_netplan(t, &c->net, path, c->log, err);
}
static char *networkd_fn(h2k_fix_ctx *c, const char *path, const char *t,
                         h2k_error *err) {
  return h2k_fix_networkd(t, &c->net, path, c->log, err);
}
static char *nm_fn(h2k_fix_ctx *c, const char *path, const char *t,
                   h2k_error *err) {
  return h2k_fix_nm_keyfile(t, &c->net, path, c->log, err);
}

/* Apply fn to every file of `dir` whose name has `prefix` and `suffix`. */
static int fix_dir(h2k_fix_ctx *c, const char *dir, const char *prefix,
                   const char *suffix, h2k_text_fix fn, h2k_error *err) {
  char **v = h2k_app_ls(c->a, dir);
  int rc = 0;
  for (size_t i = 0; v && v[i] && rc >= 0; i++) {
    size_t l = strlen(v[i]), sl = suffix ? strlen(suffix) : 0;
    if (strncmp(v[i], prefix, strlen(prefix)) != 0 ||
        (suffix && (l < sl || strcmp(v[i] + l - sl, suffix) != 0)))
      continue;
    char *p = h2k_path_join(dir, v[i]);
    rc = h2k_fix_guest_file(c, p, fn, err);
    free(p);
  }
  h2k_app_strv_free(v);
  return rc < 0 ? -1 : 0;
}

static int fix_udev_rules(h2k_fix_ctx *c, h2k_error *err) {
  const char *path = "/etc/udev/rules.d/70-persistent-net.rules";
  if (h2k_fix_guest_file(c, path, udev_fn, err) < 0)
    return -1;
  char *t = h2k_app_read_opt(c->a, path);
  bool empty = t && h2k_udev_rules_empty(t);
  free(t);
  return empty ? h2k_fix_remove(c, path, "no rule left: udev names NICs itself",
                                err)
               : 0;
}

/* ifcfg files may also move: ifcfg-ens192 → ifcfg-enp1s0. */
static int fix_ifcfg_dir(h2k_fix_ctx *c, const char *dir, h2k_error *err) {
  char **v = h2k_app_ls(c->a, dir);
  int rc = 0;
  for (size_t i = 0; v && v[i] && rc == 0; i++) {
    if (strncmp(v[i], "ifcfg-", 6) != 0 || !strcmp(v[i], "ifcfg-lo"))
      continue;
    char *p = h2k_path_join(dir, v[i]);
    char *t = h2k_app_read_opt(c->a, p);
    char *new_path = NULL;
    char *out = t ? h2k_fix_ifcfg(t, &c->net, p, &new_path, c->log, err) : NULL;
    if (t && !out)
      rc = -1;
    else if (out && (strcmp(out, t) != 0 || new_path)) {
      rc = h2k_app_write(c->a, new_path ? new_path : p, out, err);
      if (rc == 0 && new_path && strcmp(new_path, p) != 0)
        rc = h2k_fix_remove(c, p, "renamed for the KVM interface name", err);
    }
    free(new_path);
    free(out);
    free(t);
    free(p);
  }
  h2k_app_strv_free(v);
  return rc;
}

int h2k_fix_network(h2k_fix_ctx *c, h2k_error *err) {
  memset(&c->net, 0, sizeof c->net);
  c->net.level = c->net_level;
  c->net.source_macs = c->source_macs;
  c->net.n_source_macs = c->n_nics;
  c->net.target_ifname = "enp1s0";
  /* Several NICs: only the first is renamed (to enp1s0); a match by driver
   * would bind whichever NIC comes up first. */
  c->net.use_match_by_driver = c->n_nics <= 1;
  int rc = -1;
  if (fix_udev_rules(c, err) == 0 &&
      h2k_fix_guest_file(c, "/etc/network/interfaces", ifupdown_fn, err) >= 0 &&
      fix_dir(c, "/etc/network/interfaces.d", "", NULL, ifupdown_fn, err) ==
          0 &&
      fix_dir(c, "/etc/netplan", "", ".yaml", netplan_fn, err) == 0 &&
      fix_dir(c, "/etc/systemd/network", "", ".network", networkd_fn, err) ==
          0 &&
      fix_dir(c, "/etc/systemd/network", "", ".link", networkd_fn, err) == 0 &&
      fix_dir(c, "/etc/NetworkManager/system-connections", "", NULL, nm_fn,
              err) == 0 &&
      fix_ifcfg_dir(c, "/etc/sysconfig/network-scripts", err) == 0 &&
      fix_ifcfg_dir(c, "/etc/sysconfig/network", err) == 0)
    rc = 0;
  return rc;
}
