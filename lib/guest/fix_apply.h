/* FIX through libguestfs: the thin I/O step around the pure fixers in
 * lib/fix. Each plan operation reads guest files, runs the transform, and
 * writes back only what changed; every change lands in the change log
 * (before/after) for the report. One file per kind of fix. */
#ifndef H2K_GUEST_FIX_APPLY_H
#define H2K_GUEST_FIX_APPLY_H

#include <stdbool.h>

#include "fix/fix.h"
#include "fix/fstab.h"
#include "fix/network.h"
#include "guest/appliance.h"
#include "inspect/identity.h"
#include "plan/plan.h"

typedef struct h2k_fix_ctx {
  h2k_appliance *a;
  const h2k_guest_identity *id;
  h2k_devmap map;
  enum h2k_fstab_mode fstab_mode;
  h2k_net_level net_level;
  const char *const *source_macs; /* the source VM's NIC MACs */
  size_t n_nics;
  bool install_guest_agent;
  h2k_changes *log; /* every changed line, command and removed file */
  h2k_net_ctx net;  /* set up by h2k_fix_network */
} h2k_fix_ctx;

/* Run the plan's steps in order. Stops at the first failing step. */
int h2k_guest_apply(h2k_fix_ctx *c, const h2k_plan *plan, h2k_error *err);

/* ---- shared by the fix_*.c files ---- */

/* A transform of one file's text; NULL + err on failure. */
typedef char *(*h2k_text_fix)(h2k_fix_ctx *c, const char *path,
                              const char *text, h2k_error *err);

/* Apply `fn` to the guest file at `path` if it exists; write it back only
 * when the text changed. Returns 1 changed, 0 unchanged/absent, -1 error. */
int h2k_fix_guest_file(h2k_fix_ctx *c, const char *path, h2k_text_fix fn,
                       h2k_error *err);

/* Run a command in the guest, log it in the change log (file = "(command)"
 * and `why`), and return its output (malloc'ed) or NULL + err. */
char *h2k_fix_run(h2k_fix_ctx *c, const char *cmd, const char *why,
                  h2k_error *err);

/* Remove a guest file, logged. */
int h2k_fix_remove(h2k_fix_ctx *c, const char *path, const char *why,
                   h2k_error *err);

int h2k_fix_storage_names(h2k_fix_ctx *c, h2k_error *err); /* fstab, crypttab */
int h2k_fix_boot_cmdline(h2k_fix_ctx *c, h2k_error *err);  /* grub, BLS, ... */
int h2k_fix_initramfs_config(h2k_fix_ctx *c, h2k_error *err);

/* The guest commands of the initramfs rebuild, GRUB's regeneration and
 * VMware tools removal run together (fix_apply.c: run_command_steps), so
 * each of these steps comes in halves around its command. */

/* Initramfs rebuild: prepare fills the commands (build NULL: no kernel,
 * nothing to do), the caller runs `build`, verify lists the result. */
typedef struct h2k_initramfs_regen {
  const h2k_guest_kernel *k;
  char *build, *list, *why;
  char *initrd; /* the image the build writes, listed afterwards */
} h2k_initramfs_regen;
int h2k_fix_initramfs_regen_prepare(h2k_fix_ctx *c, h2k_initramfs_regen *r,
                                    h2k_error *err);
int h2k_fix_initramfs_regen_verify(h2k_fix_ctx *c, h2k_initramfs_regen *r,
                                   h2k_error *err);
void h2k_initramfs_regen_free(h2k_initramfs_regen *r);

/* GRUB's regeneration in halves: the command (NULL: no grub.cfg), then
 * the name fix on its output. */
#define H2K_GRUB_REGEN_WHY "regenerate GRUB's configuration"
const char *h2k_fix_grub_regen_cmd(h2k_fix_ctx *c);
int h2k_fix_grub_regen_after(h2k_fix_ctx *c, const char *output,
                             h2k_error *err);

/* Run the jobs at once in the guest (h2k_app_sh_parallel) and log each
 * command that succeeded with `why[i]` and its duration. Jobs with cmd NULL
 * are left out. -1 + err only when the guest shell could not run: check
 * each job with h2k_fix_job_check. */
int h2k_fix_run_parallel(h2k_fix_ctx *c, h2k_app_job *jobs,
                         const char *const *why, size_t n, h2k_error *err);
/* -1 + err (naming the command, with its output) when the job failed. */
int h2k_fix_job_check(const h2k_app_job *job, h2k_error *err);

/* VMware tools removal in halves: prepare gives the package manager's
 * command (NULL when there is nothing to remove; services are then
 * disabled at once) and, when `side_by_side` (the command runs beside the
 * initramfs rebuild, so dpkg holds its triggers back), the command that
 * runs the held-back triggers once every command has ended (else NULL);
 * after handles the results, falling back to disabling the services when
 * the removal failed. */
#define H2K_TOOLS_REMOVAL_WHY "remove VMware tools"
#define H2K_TOOLS_TRIGGERS_WHY "run the package triggers the removal held back"
int h2k_fix_vmware_tools_prepare(h2k_fix_ctx *c, bool side_by_side, char **cmd,
                                 const char **triggers_cmd, h2k_error *err);
int h2k_fix_vmware_tools_after(h2k_fix_ctx *c, const h2k_app_job *job,
                               const h2k_app_job *triggers, h2k_error *err);

int h2k_fix_network(h2k_fix_ctx *c, h2k_error *err);
int h2k_fix_guest_agent(h2k_fix_ctx *c, h2k_error *err);

#endif
