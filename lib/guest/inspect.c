#include "guest/inspect.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "fix/bootloader.h"
#include "fix/fstab.h"
#include "fix/initramfs.h"
#include "guest/devnames.h"
#include "guest/initrd_read.h"
#include "inspect/osinfo.h"

#define ESP_GUID "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"

static char *dup_or_null(char *s) { /* libguestfs "unknown" → NULL */
  if (s && (!*s || !strcmp(s, "unknown"))) {
    free(s);
    return NULL;
  }
  return s;
}

/* PRETTY_NAME from /etc/os-release ("Debian GNU/Linux 12 (bookworm)"):
 * libguestfs gives Debian's product name as its point release only. */
static char *os_release_pretty_name(h2k_appliance *a) {
  char *t = h2k_app_read_opt(a, "/etc/os-release");
  if (!t)
    t = h2k_app_read_opt(a, "/usr/lib/os-release");
  char *name = NULL;
  for (char *line = t ? strtok(t, "\n") : NULL; line && !name;
       line = strtok(NULL, "\n")) {
    if (strncmp(line, "PRETTY_NAME=", 12) != 0)
      continue;
    char *v = line + 12;
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0])
      name = strndup(v + 1, n - 2);
    else
      name = strdup(v);
  }
  free(t);
  return name;
}

static void os_facts(h2k_appliance *a, h2k_guest_identity *id) {
  guestfs_h *g = a->g;
  const char *r = a->root;
  char *type = guestfs_inspect_get_type(g, r);
  id->os_type = !type                      ? H2K_OS_UNKNOWN
                : !strcmp(type, "linux")   ? H2K_OS_LINUX
                : !strcmp(type, "windows") ? H2K_OS_WINDOWS
                                           : H2K_OS_UNKNOWN;
  free(type);
  id->distro = dup_or_null(guestfs_inspect_get_distro(g, r));
  id->major = guestfs_inspect_get_major_version(g, r);
  id->minor = guestfs_inspect_get_minor_version(g, r);
  id->product_name = os_release_pretty_name(a);
  if (!id->product_name)
    id->product_name = dup_or_null(guestfs_inspect_get_product_name(g, r));
  id->arch = dup_or_null(guestfs_inspect_get_arch(g, r));
  id->hostname = dup_or_null(guestfs_inspect_get_hostname(g, r));
  id->package_format = dup_or_null(guestfs_inspect_get_package_format(g, r));
  id->package_manager =
      dup_or_null(guestfs_inspect_get_package_management(g, r));
  id->root_device = strdup(r);
}

static char *first_existing_read(h2k_appliance *a, const char *const *paths) {
  for (; *paths; paths++) {
    char *t = h2k_app_read_opt(a, *paths);
    if (t)
      return t;
  }
  return NULL;
}

static const char *const os_release_files[] = {"/etc/os-release",
                                               "/usr/lib/os-release", NULL};
static const char *const release_files[] = {
    "/etc/redhat-release", "/etc/oracle-release", "/etc/SuSE-release",
    "/etc/debian_version", NULL};
static const char *const elf_probes[] = {"/usr/bin/ls", "/bin/ls",
                                         "/usr/bin/bash", "/bin/sh", NULL};
static const char *const hostname_files[] = {"/etc/hostname", "/etc/HOSTNAME",
                                             NULL};
/* package format: the database; manager: the tool (newest first) */
static const char *const pkg_formats[][2] = {
    {"/var/lib/dpkg/status", "deb"},  {"/var/lib/rpm", "rpm"},
    {"/usr/lib/sysimage/rpm", "rpm"}, {"/var/lib/pacman", "pacman"},
    {"/lib/apk/db/installed", "apk"},
};
static const char *const pkg_managers[][2] = {
    {"/usr/bin/apt-get", "apt"},   {"/usr/bin/dnf", "dnf"},
    {"/usr/bin/dnf5", "dnf"},      {"/usr/bin/tdnf", "tdnf"},
    {"/usr/bin/yum", "yum"},       {"/usr/bin/zypper", "zypper"},
    {"/usr/bin/pacman", "pacman"}, {"/sbin/apk", "apk"},
    {"/usr/sbin/urpmi", "urpmi"},
};

static char *arch_of(h2k_appliance *a) {
  for (size_t i = 0; elf_probes[i]; i++) {
    uint8_t hdr[64];
    long n = h2k_app_read_head(a, elf_probes[i], hdr, sizeof hdr);
    const char *arch = n > 0 ? h2k_elf_arch(hdr, (size_t)n) : NULL;
    if (arch)
      return strdup(arch);
  }
  return NULL;
}

static char *hostname_of(h2k_appliance *a) {
  char *t = first_existing_read(a, hostname_files);
  char *h = h2k_hostname_parse(t, false);
  free(t);
  if (!h) {
    t = h2k_app_read_opt(a, "/etc/sysconfig/network");
    h = h2k_hostname_parse(t, true);
    free(t);
  }
  return h;
}

static char *first_present(h2k_appliance *a, const char *const (*table)[2],
                           size_t n) {
  for (size_t i = 0; i < n; i++)
    if (h2k_app_is_file(a, table[i][0]) || h2k_app_is_dir(a, table[i][0]))
      return strdup(table[i][1]);
  return NULL;
}

/* The facts guestfs_inspect_get_* would give, from the guest's files. */
static void native_os_facts(h2k_appliance *a, h2k_guest_identity *id) {
  id->os_type = H2K_OS_LINUX;
  h2k_osinfo o = {0};
  char *t = first_existing_read(a, os_release_files);
  h2k_os_release_parse(t, &o);
  free(t);
  for (size_t i = 0; release_files[i]; i++) {
    t = h2k_app_read_opt(a, release_files[i]);
    h2k_release_file_parse(release_files[i], t, &o);
    free(t);
  }
  id->distro = o.distro;
  id->major = o.major;
  id->minor = o.minor;
  id->product_name = o.product_name;
  id->arch = arch_of(a);
  id->hostname = hostname_of(a);
  id->package_format =
      first_present(a, pkg_formats, sizeof pkg_formats / sizeof *pkg_formats);
  id->package_manager = first_present(
      a, pkg_managers, sizeof pkg_managers / sizeof *pkg_managers);
  id->root_device = strdup(a->root);
}

/* UEFI when the first disk has a GPT EFI system partition. The partition
 * table type comes from blkid, already run on every disk by the scan. */
static enum h2k_fw firmware_of(h2k_appliance *a) {
  const char *first_pttype = a->storage.first_pttype;
  if (!first_pttype || strcmp(first_pttype, "gpt") != 0)
    return H2K_GUEST_FW_BIOS;
  struct guestfs_partition_list *parts = guestfs_part_list(a->g, "/dev/sda");
  enum h2k_fw fw = H2K_GUEST_FW_BIOS;
  for (size_t i = 0; parts && i < parts->len; i++) {
    char *t =
        guestfs_part_get_gpt_type(a->g, "/dev/sda", parts->val[i].part_num);
    if (t && !strcasecmp(t, ESP_GUID))
      fw = H2K_GUEST_FW_UEFI;
    free(t);
  }
  if (parts)
    guestfs_free_partition_list(parts);
  return fw;
}

static bool any_file(h2k_appliance *a, const char *const *paths) {
  for (; *paths; paths++)
    if (h2k_app_is_file(a, *paths))
      return true;
  return false;
}

static enum h2k_bootloader bootloader_of(h2k_appliance *a) {
  static const char *const grub2[] = {"/boot/grub/grub.cfg",
                                      "/boot/grub2/grub.cfg", NULL};
  static const char *const legacy[] = {"/boot/grub/menu.lst",
                                       "/boot/grub/grub.conf", NULL};
  static const char *const extlinux[] = {"/boot/extlinux/extlinux.conf",
                                         "/boot/extlinux.conf",
                                         "/boot/syslinux/syslinux.cfg", NULL};
  if (any_file(a, grub2))
    return H2K_BOOT_GRUB2;
  if (any_file(a, legacy))
    return H2K_BOOT_GRUB_LEGACY;
  if (any_file(a, extlinux))
    return H2K_BOOT_EXTLINUX;
  if (h2k_app_is_dir(a, "/boot/loader/entries") ||
      h2k_app_is_dir(a, "/boot/efi/loader/entries"))
    return H2K_BOOT_SYSTEMD_BOOT;
  return H2K_BOOT_UNKNOWN;
}

static enum h2k_initramfs_tool initramfs_tool_of(h2k_appliance *a) {
  static const char *const itools[] = {"/usr/sbin/update-initramfs",
                                       "/sbin/update-initramfs", NULL};
  static const char *const dracut[] = {"/usr/bin/dracut", "/usr/sbin/dracut",
                                       "/sbin/dracut", NULL};
  static const char *const mkcpio[] = {"/usr/bin/mkinitcpio", NULL};
  static const char *const mkinitrd[] = {"/sbin/mkinitrd", "/usr/sbin/mkinitrd",
                                         NULL};
  if (any_file(a, itools))
    return H2K_INITRD_INITRAMFS_TOOLS;
  if (any_file(a, dracut))
    return H2K_INITRD_DRACUT;
  if (any_file(a, mkcpio))
    return H2K_INITRD_MKINITCPIO;
  if (any_file(a, mkinitrd))
    return H2K_INITRD_MKINITRD;
  return H2K_INITRD_UNKNOWN;
}

/* Does `dir` hold an entry starting with `prefix` and ending with one of
 * `suffixes` (NULL: any)? */
static bool dir_has(h2k_appliance *a, const char *dir, const char *prefix,
                    const char *suffix) {
  char **v = h2k_app_ls(a, dir);
  bool found = false;
  for (size_t i = 0; v && v[i] && !found; i++) {
    size_t l = strlen(v[i]), sl = suffix ? strlen(suffix) : 0;
    found = !strncmp(v[i], prefix, strlen(prefix)) &&
            (!suffix || (l >= sl && !strcmp(v[i] + l - sl, suffix)));
  }
  h2k_app_strv_free(v);
  return found;
}

static unsigned net_styles_of(h2k_appliance *a) {
  unsigned s = 0;
  if (h2k_app_is_file(a, "/etc/network/interfaces"))
    s |= H2K_NETCFG_IFUPDOWN;
  if (dir_has(a, "/etc/netplan", "", ".yaml"))
    s |= H2K_NETCFG_NETPLAN;
  if (dir_has(a, "/etc/NetworkManager/system-connections", "", NULL))
    s |= H2K_NETCFG_NM;
  if (dir_has(a, "/etc/sysconfig/network-scripts", "ifcfg-", NULL))
    s |= H2K_NETCFG_IFCFG;
  if (dir_has(a, "/etc/systemd/network", "", ".network") ||
      dir_has(a, "/etc/systemd/network", "", ".link"))
    s |= H2K_NETCFG_NETWORKD;
  if (dir_has(a, "/etc/sysconfig/network", "ifcfg-", NULL))
    s |= H2K_NETCFG_WICKED;
  if (h2k_app_is_file(a, "/etc/udev/rules.d/70-persistent-net.rules"))
    s |= H2K_NETCFG_UDEV_RULES;
  return s;
}

static bool module_present(h2k_appliance *a, const char *kver,
                           const char *subdir, const char *mod) {
  char *dir = h2k_strdup_printf("/lib/modules/%s/kernel/%s", kver, subdir);
  char *prefix = h2k_strdup_printf("%s.ko", mod);
  bool found = dir && prefix && dir_has(a, dir, prefix, NULL);
  free(dir);
  free(prefix);
  return found;
}

static bool builtin(h2k_appliance *a, const char *kver, const char *symbol) {
  char *path = h2k_strdup_printf("/boot/config-%s", kver);
  char *cfg = path ? h2k_app_read_opt(a, path) : NULL;
  bool y = cfg && h2k_kernel_config_has(cfg, symbol) == 'y';
  free(cfg);
  free(path);
  return y;
}

static char *initrd_of(h2k_appliance *a, const char *kver) {
  const char *forms[] = {"/boot/initrd.img-%s", "/boot/initramfs-%s.img",
                         "/boot/initrd-%s"};
  for (size_t i = 0; i < 3; i++) {
    char *p = h2k_strdup_printf(forms[i], kver);
    if (p && h2k_app_is_file(a, p))
      return p;
    free(p);
  }
  return NULL;
}

static int by_version(const void *x, const void *y) {
  return strverscmp(*(char *const *)x, *(char *const *)y);
}

/* Installed kernels: a /lib/modules/VERSION with a /boot/vmlinuz-VERSION.
 * The newest is taken as the one the bootloader starts. */
static void kernels_of(h2k_appliance *a, h2k_guest_identity *id) {
  char **v = h2k_app_ls(a, "/lib/modules");
  size_t n = 0;
  while (v && v[n])
    n++;
  if (n)
    qsort(v, n, sizeof *v, by_version);
  for (size_t i = 0; i < n; i++) {
    char *vmlinuz = h2k_strdup_printf("/boot/vmlinuz-%s", v[i]);
    bool present = vmlinuz && h2k_app_is_file(a, vmlinuz);
    free(vmlinuz);
    if (!present)
      continue;
    h2k_guest_kernel *k =
        realloc(id->kernels, (id->n_kernels + 1) * sizeof *id->kernels);
    if (!k)
      break;
    id->kernels = k;
    k = &id->kernels[id->n_kernels++];
    memset(k, 0, sizeof *k);
    k->version = strdup(v[i]);
    k->initrd = initrd_of(a, v[i]);
    k->virtio_builtin = builtin(a, v[i], "VIRTIO_BLK");
    k->virtio_blk = k->virtio_builtin ||
                    module_present(a, v[i], "drivers/block", "virtio_blk");
    k->virtio_net = builtin(a, v[i], "VIRTIO_NET") ||
                    module_present(a, v[i], "drivers/net", "virtio_net");
    k->virtio_console =
        builtin(a, v[i], "VIRTIO_CONSOLE") ||
        module_present(a, v[i], "drivers/char", "virtio_console");
    k->virtio_rng =
        builtin(a, v[i], "HW_RANDOM_VIRTIO") ||
        module_present(a, v[i], "drivers/char/hw_random", "virtio-rng");
  }
  if (id->n_kernels)
    id->kernels[id->n_kernels - 1].is_default = true;
  h2k_app_strv_free(v);
}

/* Does the boot kernel's initramfs already hold virtio_blk? Listed with
 * the guest's own tool (a converted guest needs no rebuild). */
static void initrd_virtio_of(h2k_appliance *a, h2k_guest_identity *id) {
  const char *lister = id->initramfs == H2K_INITRD_INITRAMFS_TOOLS
                           ? "lsinitramfs"
                       : id->initramfs == H2K_INITRD_DRACUT ? "lsinitrd"
                                                            : NULL;
  for (size_t i = 0; lister && i < id->n_kernels; i++) {
    h2k_guest_kernel *k = &id->kernels[i];
    if (!k->is_default || !k->initrd)
      continue;
    char *cmd = h2k_strdup_printf("%s '%s'", lister, k->initrd);
    h2k_error e = {0};
    char *listing = cmd ? h2k_guest_list_initrd(a, k->initrd, cmd, &e) : NULL;
    k->initrd_virtio = listing && h2k_initramfs_has_virtio(listing);
    if (!listing)
      h2k_debug("%s", h2k_error_text(&e));
    h2k_err_clear(&e);
    free(listing);
    free(cmd);
  }
}

static bool device_map_stale(h2k_appliance *a) {
  const char *maps[] = {"/boot/grub/device.map", "/boot/grub2/device.map"};
  bool stale = false;
  for (size_t i = 0; i < 2 && !stale; i++) {
    char *t = h2k_app_read_opt(a, maps[i]);
    stale = t && h2k_device_map_is_stale(t);
    free(t);
  }
  return stale;
}

static enum h2k_selinux selinux_of(h2k_appliance *a) {
  char *cfg = h2k_app_read_opt(a, "/etc/selinux/config");
  enum h2k_selinux s = H2K_SELINUX_NONE;
  for (char *line = cfg ? strtok(cfg, "\n") : NULL; line;
       line = strtok(NULL, "\n")) {
    line += strspn(line, " \t");
    if (!strncmp(line, "SELINUX=", 8)) {
      const char *v = line + 8;
      s = !strncmp(v, "enforcing", 9)     ? H2K_SELINUX_ENFORCING
          : !strncmp(v, "permissive", 10) ? H2K_SELINUX_PERMISSIVE
                                          : H2K_SELINUX_NONE;
    }
  }
  free(cfg);
  return s;
}

/* The block devices a->storage holds (scanned before the OS was found),
 * copied into the job's storage facts. */
static void storage_of(h2k_appliance *a, h2k_guest_identity *id,
                       h2k_guest_storage *st) {
  const h2k_app_storage *as = &a->storage;
  id->has_lvm = as->has_lvm;
  id->has_md = as->has_md;
  id->has_luks = as->has_luks;
  st->devs = h2k_blkdevs_copy(as->devs, as->n_devs);
  st->n_devs = st->devs ? as->n_devs : 0;
}

/* Files whose device names the fixers rewrite. */
static const char *const name_files[] = {"/etc/fstab",
                                         "/etc/crypttab",
                                         "/etc/default/grub",
                                         "/boot/grub/grub.cfg",
                                         "/boot/grub2/grub.cfg",
                                         "/etc/kernel/cmdline",
                                         NULL};

static void aliases_of(h2k_appliance *a, size_t n_disks,
                       h2k_guest_storage *st) {
  char **links = NULL;
  size_t n = 0;
  for (size_t i = 0; name_files[i]; i++) {
    char *t = h2k_app_read_opt(a, name_files[i]);
    if (t)
      h2k_find_disk_links(t, &links, &n);
    free(t);
  }
  for (size_t i = 0; i < n; i++) {
    char *target = h2k_resolve_disk_link(links[i], n_disks);
    if (!target) {
      h2k_info("cannot tell which disk '%s' names; it is left as it is",
               links[i]);
      continue;
    }
    h2k_debug("source name %s is %s in the appliance", links[i], target);
    size_t na = st->n_alias, nt = st->n_alias;
    h2k_strv_push(&st->alias, &na, strdup(links[i]));
    h2k_strv_push(&st->target, &nt, target);
    st->n_alias++;
  }
  for (size_t i = 0; i < n; i++)
    free(links[i]);
  free(links);
}

/* Would the fixers rewrite device names? Run them as detectors. */
static void unstable_names(h2k_appliance *a, h2k_guest_identity *id,
                           const h2k_devmap *map) {
  h2k_error e = {0};
  h2k_changes log = {0};
  char *t = h2k_app_read_opt(a, "/etc/fstab");
  char *out =
      t ? h2k_fix_fstab(t, map, H2K_FSTAB_STABILIZE_ALL, &log, &e) : NULL;
  id->fstab_unstable = out && strcmp(out, t) != 0;
  free(t);
  free(out);
  h2k_changes_free(&log);
  const char *boot[] = {"/etc/default/grub", "/boot/grub/grub.cfg",
                        "/boot/grub2/grub.cfg", "/etc/kernel/cmdline"};
  for (size_t i = 0; i < 4 && !id->cmdline_unstable; i++) {
    t = h2k_app_read_opt(a, boot[i]);
    if (!t)
      continue;
    out = i == 0 ? h2k_fix_grub_default(t, map, id->root_device, &log, &e)
          : i == 3
              ? h2k_fix_kernel_cmdline(t, map, id->root_device, boot[i], 1,
                                       &log, &e)
              : h2k_fix_grub_cfg(t, map, id->root_device, boot[i], &log, &e);
    id->cmdline_unstable = out && strcmp(out, t) != 0;
    free(t);
    free(out);
    h2k_changes_free(&log);
  }
  h2k_err_clear(&e);
}

int h2k_guest_inspect(h2k_appliance *a, size_t n_disks, h2k_guest_identity *id,
                      h2k_guest_storage *st, h2k_error *err) {
  (void)err;
  memset(id, 0, sizeof *id);
  memset(st, 0, sizeof *st);
  if (a->native_root)
    native_os_facts(a, id);
  else
    os_facts(a, id);
  id->bootloader = bootloader_of(a);
  char *init = guestfs_readlink(a->g, "/sbin/init");
  id->init_systemd = (init && strstr(init, "systemd")) ||
                     h2k_app_is_file(a, "/lib/systemd/systemd");
  free(init);
  id->net_styles = net_styles_of(a);
  id->initramfs = initramfs_tool_of(a);
  kernels_of(a, id);
  initrd_virtio_of(a, id);
  id->device_map_stale = device_map_stale(a);
  storage_of(a, id, st);
  id->firmware = firmware_of(a);
  aliases_of(a, n_disks, st);
  h2k_devmap map;
  h2k_guest_storage_devmap(st, &map);
  unstable_names(a, id, &map);
  static const char *const tools[] = {"/usr/bin/vmtoolsd", "/usr/sbin/vmtoolsd",
                                      "/etc/vmware-tools/locations", NULL};
  id->vmware_tools = any_file(a, tools);
  id->selinux = selinux_of(a);
  return 0;
}

void h2k_guest_storage_devmap(const h2k_guest_storage *st, h2k_devmap *map) {
  map->devs = st->devs;
  map->n_devs = st->n_devs;
  map->alias = (const char *const *)st->alias;
  map->target = (const char *const *)st->target;
  map->n_alias = st->n_alias;
}

void h2k_guest_storage_free(h2k_guest_storage *st) {
  h2k_blkdevs_free(st->devs, st->n_devs);
  for (size_t i = 0; i < st->n_alias; i++) {
    free(st->alias[i]);
    free(st->target[i]);
  }
  free(st->alias);
  free(st->target);
  memset(st, 0, sizeof *st);
}
