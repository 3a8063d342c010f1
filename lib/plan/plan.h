/* PLAN: a pure function from what INSPECT found (and the options) to the
 * ordered list of fix operations, each with its reason. No I/O: unit-tested
 * without an appliance; --dry-run prints the plan. Every operation is
 * idempotent, so converting a converted guest again plans the same steps
 * and they change nothing. */
#ifndef H2K_PLAN_PLAN_H
#define H2K_PLAN_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "inspect/identity.h"

enum h2k_fix_op {
  H2K_OP_FSTAB = 0,        /* rewrite fstab/crypttab device names */
  H2K_OP_BOOT_CMDLINE,     /* root=/resume= on the kernel command line */
  H2K_OP_GRUB_DEVICE_MAP,  /* remove a stale device.map */
  H2K_OP_INITRAMFS_CONFIG, /* add virtio drivers to the guest's config */
  H2K_OP_INITRAMFS_REGEN,  /* rebuild the initramfs of the boot kernel */
  H2K_OP_GRUB_REGEN,       /* regenerate grub.cfg with the guest's tool */
  H2K_OP_NETWORK,          /* MAC pinning and interface names */
  H2K_OP_VMWARE_TOOLS,     /* disable and remove VMware tools */
  H2K_OP_SELINUX_RELABEL,  /* relabel on first boot */
  H2K_OP_TRIM,             /* fstrim the overlay before CONVERT */
  H2K_OP_COUNT_
};

typedef struct h2k_plan_opts {
  const char *fstab_mode; /* "stabilize-all", "bypath-only", "noop" */
  bool regen_initramfs;
  bool update_grub;
  const char *network_fix_level; /* "conservative", "moderate", "aggressive" */
  bool remove_vmware_tools;
  bool trim;
} h2k_plan_opts;

typedef struct h2k_plan_step {
  enum h2k_fix_op op;
  char *reason; /* why this step is needed for this guest */
} h2k_plan_step;

typedef struct h2k_plan {
  h2k_plan_step *steps;
  size_t n;
  char **skipped; /* steps considered and not planned, with the reason */
  size_t n_skipped;
} h2k_plan;

const char *h2k_fix_op_name(enum h2k_fix_op op);

/* Build the plan. Fails (H2K_E_STAGE) for guests we cannot convert, such as
 * an unknown OS or a Linux guest whose kernels all lack virtio_blk. */
int h2k_plan_build(const h2k_guest_identity *id, const h2k_plan_opts *o,
                   h2k_plan *plan, h2k_error *err);
void h2k_plan_free(h2k_plan *plan);

#endif
