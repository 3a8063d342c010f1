#include "job/guest_work.h"

#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"

h2k_guest_work *h2k_guest_work_get(h2k_job *job) {
  if (!job->guest)
    job->guest = calloc(1, sizeof *job->guest);
  return job->guest;
}

void h2k_guest_work_free(h2k_job *job) {
  h2k_guest_work *w = job->guest;
  if (!w)
    return;
  if (w->session_open)
    h2k_guest_session_close(&w->session, w->scratch_dir != NULL, NULL);
  if (w->scratch_dir) {
    h2k_remove_tree(w->scratch_dir);
    free(w->scratch_dir);
  }
  h2k_identity_free(&w->id);
  h2k_guest_storage_free(&w->storage);
  h2k_plan_free(&w->plan);
  h2k_changes_free(&w->changes);
  if (w->resumed)
    json_object_put(w->resumed);
  free(w);
  job->guest = NULL;
}

static json_object *str_or_null(const char *s) {
  return s ? json_object_new_string(s) : NULL;
}

static const char *fw_name(enum h2k_fw f) {
  return f == H2K_GUEST_FW_UEFI   ? "uefi"
         : f == H2K_GUEST_FW_BIOS ? "bios"
                                  : "unknown";
}

static const char *bootloader_name(enum h2k_bootloader b) {
  static const char *const n[] = {"unknown", "grub2", "grub-legacy",
                                  "systemd-boot", "extlinux"};
  return (size_t)b < sizeof n / sizeof *n ? n[b] : "unknown";
}

static const char *initramfs_name(enum h2k_initramfs_tool t) {
  static const char *const n[] = {"unknown", "initramfs-tools", "dracut",
                                  "mkinitrd", "mkinitcpio"};
  return (size_t)t < sizeof n / sizeof *n ? n[t] : "unknown";
}

static json_object *net_styles_json(unsigned s) {
  static const char *const n[] = {
      "ifupdown", "netplan", "networkmanager",     "ifcfg",
      "networkd", "wicked",  "udev-persistent-net"};
  json_object *a = json_object_new_array();
  for (size_t i = 0; i < sizeof n / sizeof *n; i++)
    if (s & (1u << i))
      json_object_array_add(a, json_object_new_string(n[i]));
  return a;
}

static json_object *kernels_json(const h2k_guest_identity *id) {
  json_object *a = json_object_new_array();
  for (size_t i = 0; i < id->n_kernels; i++) {
    const h2k_guest_kernel *k = &id->kernels[i];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "version", str_or_null(k->version));
    json_object_object_add(o, "initrd", str_or_null(k->initrd));
    json_object_object_add(o, "virtio_blk",
                           json_object_new_boolean(k->virtio_blk));
    json_object_object_add(o, "virtio_net",
                           json_object_new_boolean(k->virtio_net));
    json_object_object_add(o, "virtio_console",
                           json_object_new_boolean(k->virtio_console));
    json_object_object_add(o, "virtio_rng",
                           json_object_new_boolean(k->virtio_rng));
    json_object_object_add(o, "virtio_blk_builtin",
                           json_object_new_boolean(k->virtio_builtin));
    json_object_object_add(o, "initrd_has_virtio_blk",
                           json_object_new_boolean(k->initrd_virtio));
    json_object_object_add(o, "default",
                           json_object_new_boolean(k->is_default));
    json_object_array_add(a, o);
  }
  return a;
}

json_object *h2k_identity_json(const h2k_guest_identity *id) {
  static const char *const os[] = {"unknown", "linux", "windows"};
  static const char *const se[] = {"none", "permissive", "enforcing"};
  json_object *o = json_object_new_object();
  json_object_object_add(o, "os_type", json_object_new_string(os[id->os_type]));
  json_object_object_add(o, "distro", str_or_null(id->distro));
  json_object_object_add(o, "version_major", json_object_new_int(id->major));
  json_object_object_add(o, "version_minor", json_object_new_int(id->minor));
  json_object_object_add(o, "product_name", str_or_null(id->product_name));
  json_object_object_add(o, "arch", str_or_null(id->arch));
  json_object_object_add(o, "hostname", str_or_null(id->hostname));
  json_object_object_add(o, "firmware",
                         json_object_new_string(fw_name(id->firmware)));
  json_object_object_add(
      o, "bootloader", json_object_new_string(bootloader_name(id->bootloader)));
  json_object_object_add(
      o, "init",
      json_object_new_string(id->init_systemd ? "systemd" : "other"));
  json_object_object_add(o, "network_config", net_styles_json(id->net_styles));
  json_object_object_add(o, "package_format", str_or_null(id->package_format));
  json_object_object_add(o, "package_manager",
                         str_or_null(id->package_manager));
  json_object_object_add(o, "initramfs_tool",
                         json_object_new_string(initramfs_name(id->initramfs)));
  json_object_object_add(o, "kernels", kernels_json(id));
  json_object_object_add(o, "root_device", str_or_null(id->root_device));
  json_object_object_add(o, "lvm", json_object_new_boolean(id->has_lvm));
  json_object_object_add(o, "luks", json_object_new_boolean(id->has_luks));
  json_object_object_add(o, "md_raid", json_object_new_boolean(id->has_md));
  json_object_object_add(o, "fstab_unstable_names",
                         json_object_new_boolean(id->fstab_unstable));
  json_object_object_add(o, "cmdline_unstable_names",
                         json_object_new_boolean(id->cmdline_unstable));
  json_object_object_add(o, "grub_device_map_stale",
                         json_object_new_boolean(id->device_map_stale));
  json_object_object_add(o, "vmware_tools",
                         json_object_new_boolean(id->vmware_tools));
  json_object_object_add(o, "selinux", json_object_new_string(se[id->selinux]));
  return o;
}

json_object *h2k_plan_json(const h2k_plan *plan) {
  json_object *o = json_object_new_object();
  json_object *steps = json_object_new_array();
  for (size_t i = 0; i < plan->n; i++) {
    json_object *s = json_object_new_object();
    json_object_object_add(
        s, "op", json_object_new_string(h2k_fix_op_name(plan->steps[i].op)));
    json_object_object_add(s, "reason", str_or_null(plan->steps[i].reason));
    json_object_array_add(steps, s);
  }
  json_object_object_add(o, "steps", steps);
  json_object *skipped = json_object_new_array();
  for (size_t i = 0; i < plan->n_skipped; i++)
    json_object_array_add(skipped, json_object_new_string(plan->skipped[i]));
  json_object_object_add(o, "skipped", skipped);
  return o;
}

json_object *h2k_changes_json(const h2k_changes *c) {
  json_object *a = json_object_new_array();
  for (size_t i = 0; i < c->n; i++) {
    const h2k_change *ch = &c->items[i];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "file", str_or_null(ch->file));
    json_object_object_add(o, "line", json_object_new_int(ch->line));
    json_object_object_add(o, "before", str_or_null(ch->before));
    json_object_object_add(o, "after", str_or_null(ch->after));
    json_object_object_add(o, "reason", str_or_null(ch->reason));
    json_object_array_add(a, o);
  }
  return a;
}

json_object *h2k_guest_json(const h2k_job *job) {
  const h2k_guest_work *w = job->guest;
  if (!w)
    return NULL;
  if (!w->inspected && w->resumed)
    return json_object_get(w->resumed);
  if (!w->inspected)
    return NULL;
  json_object *o = json_object_new_object();
  json_object_object_add(o, "identity", h2k_identity_json(&w->id));
  json_object_object_add(o, "plan",
                         w->planned ? h2k_plan_json(&w->plan) : NULL);
  json_object_object_add(o, "changes", h2k_changes_json(&w->changes));
  return o;
}

static void md_change(h2k_buf *md, const h2k_change *c) {
  h2k_buf_printf(md, "- `%s`", c->file ? c->file : "?");
  if (c->line)
    h2k_buf_printf(md, " line %d", c->line);
  h2k_buf_printf(md, ": %s\n", c->reason ? c->reason : "");
  if (c->before)
    h2k_buf_printf(md, "  - before: `%s`\n", c->before);
  if (c->after)
    h2k_buf_printf(md, "  - after: `%s`\n", c->after);
}

void h2k_guest_markdown(const h2k_job *job, h2k_buf *md) {
  const h2k_guest_work *w = job->guest;
  if (!w || !w->inspected)
    return;
  const h2k_guest_identity *id = &w->id;
  h2k_buf_printf(md,
                 "\n## Guest\n\n- %s (%s %d.%d, %s), %s, %s, initramfs: "
                 "%s\n",
                 id->product_name ? id->product_name : "unknown OS",
                 id->distro ? id->distro : "?", id->major, id->minor,
                 id->arch ? id->arch : "?", fw_name(id->firmware),
                 bootloader_name(id->bootloader),
                 initramfs_name(id->initramfs));
  if (w->planned) {
    h2k_buf_printf(md, "\n## Plan\n\n");
    for (size_t i = 0; i < w->plan.n; i++)
      h2k_buf_printf(md, "%zu. **%s**: %s\n", i + 1,
                     h2k_fix_op_name(w->plan.steps[i].op),
                     w->plan.steps[i].reason ? w->plan.steps[i].reason : "");
    for (size_t i = 0; i < w->plan.n_skipped; i++)
      h2k_buf_printf(md, "- not needed: %s\n", w->plan.skipped[i]);
  }
  if (w->changes.n) {
    h2k_buf_printf(md, "\n## Changes made in the guest\n\n");
    for (size_t i = 0; i < w->changes.n; i++)
      md_change(md, &w->changes.items[i]);
  }
}
