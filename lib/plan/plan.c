#include "plan/plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

const char *h2k_fix_op_name(enum h2k_fix_op op) {
  static const char *names[H2K_OP_COUNT_] = {
      "fstab",           "boot-cmdline", "grub-device-map", "initramfs-config",
      "initramfs-regen", "grub-regen",   "network",         "vmware-tools",
      "selinux-relabel", "trim"};
  return op < H2K_OP_COUNT_ ? names[op] : "?";
}

static void add_step(h2k_plan *p, enum h2k_fix_op op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_step(h2k_plan *p, enum h2k_fix_op op, const char *fmt, ...) {
  h2k_plan_step *s = realloc(p->steps, (p->n + 1) * sizeof *s);
  if (!s)
    return;
  p->steps = s;
  va_list ap;
  va_start(ap, fmt);
  char *reason = NULL;
  if (vasprintf(&reason, fmt, ap) < 0)
    reason = NULL;
  va_end(ap);
  p->steps[p->n++] = (h2k_plan_step){op, reason};
}

static void skip(h2k_plan *p, enum h2k_fix_op op, const char *why) {
  char *s = h2k_strdup_printf("%s: %s", h2k_fix_op_name(op), why);
  h2k_strv_push(&p->skipped, &p->n_skipped, s);
}

static bool uses_grub(const h2k_guest_identity *id) {
  return id->bootloader == H2K_BOOT_GRUB2 ||
         id->bootloader == H2K_BOOT_GRUB_LEGACY;
}

/* The kernel the bootloader starts, else the first one. */
static const h2k_guest_kernel *boot_kernel(const h2k_guest_identity *id) {
  for (size_t i = 0; i < id->n_kernels; i++)
    if (id->kernels[i].is_default)
      return &id->kernels[i];
  return id->n_kernels ? &id->kernels[0] : NULL;
}

static int check_guest(const h2k_guest_identity *id, h2k_error *err) {
  if (id->os_type == H2K_OS_UNKNOWN) {
    h2k_err_set(err, H2K_E_STAGE,
                "no operating system found on the disk(s): nothing to fix "
                "and no reason to expect it to boot");
    h2k_err_hint(err, "check that the right disks were given");
    return -1;
  }
  if (id->os_type == H2K_OS_WINDOWS) {
    h2k_err_set(err, H2K_E_NOTIMPL, "Windows guests are not supported yet (%s)",
                id->product_name ? id->product_name : "Windows");
    return -1;
  }
  const h2k_guest_kernel *k = boot_kernel(id);
  bool any = false;
  for (size_t i = 0; i < id->n_kernels; i++)
    any = any || id->kernels[i].virtio_blk;
  if (!k || !any) {
    h2k_err_set(err, H2K_E_STAGE,
                "%s has no installed kernel with the virtio_blk driver, so it "
                "cannot boot from a virtio disk",
                id->product_name ? id->product_name : "the guest");
    h2k_err_hint(err, "install a kernel with virtio drivers in the source "
                      "VM and convert it again");
    return -1;
  }
  return 0;
}

static void plan_storage(const h2k_guest_identity *id, const h2k_plan_opts *o,
                         h2k_plan *p) {
  bool noop = o->fstab_mode && !strcmp(o->fstab_mode, "noop");
  if (noop)
    skip(p, H2K_OP_FSTAB, "fstab_mode is noop");
  else if (id->fstab_unstable)
    add_step(p, H2K_OP_FSTAB,
             "fstab names disks as the source hypervisor did (/dev/sdX, "
             "by-path, by-id); under virtio they become /dev/vdX (mode %s)",
             o->fstab_mode ? o->fstab_mode : "stabilize-all");
  else
    skip(p, H2K_OP_FSTAB, "fstab already uses stable names");
  if (id->cmdline_unstable)
    add_step(p, H2K_OP_BOOT_CMDLINE,
             "the kernel command line gives root=/resume= as a device name "
             "that changes under virtio");
  else
    skip(p, H2K_OP_BOOT_CMDLINE, "root= is already a stable name");
  if (uses_grub(id) && id->device_map_stale)
    add_step(p, H2K_OP_GRUB_DEVICE_MAP,
             "a device.map written under VMware pins (hd0) to /dev/sda");
}

static void plan_initramfs(const h2k_guest_identity *id, const h2k_plan_opts *o,
                           h2k_plan *p) {
  const h2k_guest_kernel *k = boot_kernel(id);
  if (!o->regen_initramfs) {
    skip(p, H2K_OP_INITRAMFS_REGEN,
         "regen_initramfs is false: the guest boots only if its initramfs "
         "already loads virtio_blk");
    return;
  }
  if (id->initramfs == H2K_INITRD_UNKNOWN) {
    skip(p, H2K_OP_INITRAMFS_REGEN, "no known initramfs tool in the guest");
    return;
  }
  if (k && k->initrd_virtio) {
    skip(p, H2K_OP_INITRAMFS_REGEN,
         "the boot kernel's initramfs already holds virtio_blk");
    return;
  }
  add_step(p, H2K_OP_INITRAMFS_CONFIG,
           "make the guest's initramfs tool include virtio_blk, virtio_scsi, "
           "virtio_pci and virtio_net%s",
           k && (k->virtio_console || k->virtio_rng)
               ? " (and virtio_console/virtio_rng, which the kernel has)"
               : "");
  add_step(p, H2K_OP_INITRAMFS_REGEN,
           "rebuild the initramfs of %s so it can find the root disk on "
           "virtio%s",
           k && k->version ? k->version : "the boot kernel",
           k && k->virtio_builtin ? " (virtio_blk is built in; the rest "
                                    "are modules)"
                                  : "");
}

static void plan_network(const h2k_guest_identity *id, const h2k_plan_opts *o,
                         h2k_plan *p) {
  if (!id->net_styles) {
    skip(p, H2K_OP_NETWORK, "no network configuration found");
    return;
  }
  add_step(p, H2K_OP_NETWORK,
           "remove MAC pinning and VMware interface names so the first "
           "virtio NIC comes up (level %s)",
           o->network_fix_level ? o->network_fix_level : "moderate");
}

int h2k_plan_build(const h2k_guest_identity *id, const h2k_plan_opts *o,
                   h2k_plan *plan, h2k_error *err) {
  memset(plan, 0, sizeof *plan);
  if (check_guest(id, err) < 0)
    return -1;
  plan_storage(id, o, plan);
  plan_initramfs(id, o, plan);
  plan_network(id, o, plan);
  if (id->vmware_tools && o->remove_vmware_tools)
    add_step(plan, H2K_OP_VMWARE_TOOLS,
             "VMware tools are installed; they fail without VMware");
  /* Regenerations come after every edit they depend on. */
  size_t regen = plan->n;
  for (size_t i = 0; i < plan->n; i++)
    if (plan->steps[i].op == H2K_OP_INITRAMFS_REGEN)
      regen = i;
  if (regen < plan->n) { /* move it to the end */
    h2k_plan_step s = plan->steps[regen];
    memmove(&plan->steps[regen], &plan->steps[regen + 1],
            (plan->n - regen - 1) * sizeof s);
    plan->steps[plan->n - 1] = s;
  }
  if (uses_grub(id) && o->update_grub && id->cmdline_unstable)
    add_step(plan, H2K_OP_GRUB_REGEN,
             "regenerate grub.cfg with the guest's own tool so every entry "
             "uses the stable root");
  else if (uses_grub(id))
    skip(plan, H2K_OP_GRUB_REGEN,
         o->update_grub ? "grub.cfg already names the root by a stable ID"
                        : "update_grub is false");
  if (id->selinux == H2K_SELINUX_ENFORCING)
    add_step(plan, H2K_OP_SELINUX_RELABEL,
             "SELinux is enforcing: files rewritten offline need their "
             "labels restored at first boot");
  if (o->trim)
    add_step(plan, H2K_OP_TRIM,
             "discard unused blocks in the overlay so CONVERT does not copy "
             "them");
  return 0;
}

void h2k_plan_free(h2k_plan *plan) {
  for (size_t i = 0; i < plan->n; i++)
    free(plan->steps[i].reason);
  free(plan->steps);
  for (size_t i = 0; i < plan->n_skipped; i++)
    free(plan->skipped[i]);
  free(plan->skipped);
  memset(plan, 0, sizeof *plan);
}
