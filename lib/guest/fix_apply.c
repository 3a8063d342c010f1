#include "guest/fix_apply.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "fix/bootloader.h"

int h2k_fix_guest_file(h2k_fix_ctx *c, const char *path, h2k_text_fix fn,
                       h2k_error *err) {
  char *text = h2k_app_read_opt(c->a, path);
  if (!text)
    return 0;
  char *out = fn(c, path, text, err);
  if (!out) {
    free(text);
    h2k_err_wrap(err, "fixing %s", path);
    return -1;
  }
  int rc = 0;
  if (strcmp(out, text) != 0) {
    rc = h2k_app_write(c->a, path, out, err) < 0 ? -1 : 1;
    if (rc > 0)
      h2k_info("fixed %s", path);
  }
  free(text);
  free(out);
  return rc;
}

char *h2k_fix_run(h2k_fix_ctx *c, const char *cmd, const char *why,
                  h2k_error *err) {
  h2k_app_job job = {.cmd = cmd};
  if (h2k_fix_run_parallel(c, &job, &why, 1, err) < 0 ||
      h2k_fix_job_check(&job, err) < 0) {
    free(job.output);
    return NULL;
  }
  return job.output ? job.output : strdup("");
}

int h2k_fix_run_parallel(h2k_fix_ctx *c, h2k_app_job *jobs,
                         const char *const *why, size_t n, h2k_error *err) {
  h2k_app_job run[8];
  size_t map[8], m = 0;
  if (n > 8) {
    h2k_err_set(err, H2K_E_FAIL, "at most 8 guest commands at once (%zu)", n);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    if (jobs[i].cmd) {
      run[m] = (h2k_app_job){.cmd = jobs[i].cmd, .after = jobs[i].after};
      map[m++] = i;
    }
  for (size_t j = 0; j < m; j++)
    h2k_info("running '%s' in the guest%s", run[j].cmd,
             run[j].after ? " (once the others have ended)"
             : m > 1      ? " (at once with the others)"
                          : "");
  if (!m)
    return 0;
  double t0 = h2k_now_monotonic();
  if (h2k_app_sh_parallel(c->a, run, m, err) < 0)
    return -1;
  double wall = h2k_now_monotonic() - t0;
  for (size_t j = 0; j < m; j++) {
    h2k_app_job *job = &jobs[map[j]];
    *job = run[j];
    if (job->status == 0)
      h2k_changes_add(c->log, "(command)", 0, NULL, job->cmd, "%s (%.0f s)",
                      why[map[j]], job->seconds > 0 ? job->seconds : wall);
  }
  return 0;
}

int h2k_fix_job_check(const h2k_app_job *job, h2k_error *err) {
  if (!job->cmd || job->status == 0)
    return 0;
  h2k_err_set(err, H2K_E_STAGE, "'%s' failed in the guest (exit %d): %s",
              job->cmd, job->status, job->output ? job->output : "");
  return -1;
}

int h2k_fix_remove(h2k_fix_ctx *c, const char *path, const char *why,
                   h2k_error *err) {
  h2k_app_forget(c->a);
  if (guestfs_rm_f(c->a->g, path) < 0) {
    h2k_err_set(err, H2K_E_STAGE, "cannot remove %s in the guest: %s", path,
                h2k_app_error(c->a));
    return -1;
  }
  h2k_changes_add(c->log, path, 0, "(file)", NULL, "%s", why);
  return 0;
}

static int fix_device_map(h2k_fix_ctx *c, h2k_error *err) {
  static const char *const maps[] = {"/boot/grub/device.map",
                                     "/boot/grub2/device.map"};
  for (size_t i = 0; i < 2; i++) {
    char *t = h2k_app_read_opt(c->a, maps[i]);
    bool stale = t && h2k_device_map_is_stale(t);
    free(t);
    if (stale &&
        h2k_fix_remove(c, maps[i],
                       "device.map pins BIOS drives to VMware disk names; "
                       "GRUB probes the disks itself without it",
                       err) < 0)
      return -1;
  }
  return 0;
}

static int selinux_relabel(h2k_fix_ctx *c, h2k_error *err) {
  h2k_app_forget(c->a);
  if (guestfs_touch(c->a->g, "/.autorelabel") < 0) {
    h2k_err_set(err, H2K_E_STAGE, "cannot create /.autorelabel: %s",
                h2k_app_error(c->a));
    return -1;
  }
  h2k_changes_add(c->log, "/.autorelabel", 0, NULL, "(file)",
                  "SELinux relabels the filesystems on first boot");
  return 0;
}

/* Discard free blocks of every mounted filesystem: the overlay then reads
 * them as zeros and CONVERT skips them. Best effort (some filesystems
 * cannot trim). */
static int trim_all(h2k_fix_ctx *c, h2k_error *err) {
  (void)err;
  char **mps = guestfs_mountpoints(c->a->g);
  for (size_t i = 0; mps && mps[i] && mps[i + 1]; i += 2) {
    if (guestfs_fstrim(c->a->g, mps[i + 1], -1) < 0)
      h2k_debug("fstrim %s: %s", mps[i + 1], h2k_app_error(c->a));
    else
      h2k_debug("trimmed %s", mps[i + 1]);
  }
  h2k_app_strv_free(mps);
  return 0;
}

static int run_step(h2k_fix_ctx *c, enum h2k_fix_op op, h2k_error *err) {
  switch (op) {
  case H2K_OP_FSTAB:
    return h2k_fix_storage_names(c, err);
  case H2K_OP_BOOT_CMDLINE:
    return h2k_fix_boot_cmdline(c, err);
  case H2K_OP_GRUB_DEVICE_MAP:
    return fix_device_map(c, err);
  case H2K_OP_INITRAMFS_CONFIG:
    return h2k_fix_initramfs_config(c, err);
  case H2K_OP_INITRAMFS_REGEN: /* guest commands: run_command_steps */
  case H2K_OP_GRUB_REGEN:
  case H2K_OP_NETWORK:
    return h2k_fix_network(c, err);
  case H2K_OP_VMWARE_TOOLS:
  case H2K_OP_SELINUX_RELABEL:
    return selinux_relabel(c, err);
  case H2K_OP_TRIM:
    return trim_all(c, err);
  case H2K_OP_COUNT_:
    break;
  }
  return 0;
}

/* Which of the steps starting at `i` run their guest commands together
 * (0 when step i runs no long guest command). The initramfs rebuild and
 * GRUB's regeneration write different files and each keeps one vCPU busy
 * for tens of seconds under TCG, so back to back they run at once. VMware
 * tools removal joins them when the guest uses dpkg, whose triggers can be
 * held back until all are done (see fix_tools.c); rpm's cannot. */
static size_t command_steps(const h2k_fix_ctx *c, const h2k_plan *plan,
                            size_t i, bool *tools, bool *regen, bool *grub) {
  enum h2k_fix_op op = plan->steps[i].op;
  enum h2k_fix_op next = i + 1 < plan->n ? plan->steps[i + 1].op : op;
  enum h2k_fix_op after = i + 2 < plan->n ? plan->steps[i + 2].op : op;
  bool deb = c->id->package_format && !strcmp(c->id->package_format, "deb");
  *tools = *regen = *grub = false;
  if (op == H2K_OP_VMWARE_TOOLS) {
    *tools = true;
    if (!deb || next != H2K_OP_INITRAMFS_REGEN || after != H2K_OP_GRUB_REGEN)
      return 1;
    *regen = *grub = true;
    return 3;
  }
  if (op == H2K_OP_INITRAMFS_REGEN) {
    *regen = true;
    *grub = next == H2K_OP_GRUB_REGEN;
    return *grub ? 2 : 1;
  }
  *grub = op == H2K_OP_GRUB_REGEN;
  return *grub ? 1 : 0;
}

/* Run the chosen steps' guest commands at once, then check each result. */
static int run_command_steps(h2k_fix_ctx *c, bool tools, bool regen, bool grub,
                             h2k_error *err) {
  bool side_by_side = tools && (regen || grub);
  char *tools_cmd = NULL;
  const char *triggers_cmd = NULL;
  if (tools && h2k_fix_vmware_tools_prepare(c, side_by_side, &tools_cmd,
                                            &triggers_cmd, err) < 0)
    return -1;
  h2k_initramfs_regen r = {0};
  if (regen && h2k_fix_initramfs_regen_prepare(c, &r, err) < 0) {
    free(tools_cmd);
    return -1;
  }
  const char *grub_cmd = grub ? h2k_fix_grub_regen_cmd(c) : NULL;
  if (grub && !grub_cmd)
    h2k_info("no grub.cfg to regenerate");
  h2k_app_job jobs[4] = {{.cmd = r.build},
                         {.cmd = grub_cmd},
                         {.cmd = tools_cmd},
                         {.cmd = triggers_cmd, .after = true}};
  const char *why[4] = {r.why, H2K_GRUB_REGEN_WHY, H2K_TOOLS_REMOVAL_WHY,
                        H2K_TOOLS_TRIGGERS_WHY};
  int rc = h2k_fix_run_parallel(c, jobs, why, 4, err);
  if (rc == 0 && tools_cmd) /* a failed removal falls back; it is not fatal */
    rc = h2k_fix_vmware_tools_after(c, &jobs[2], triggers_cmd ? &jobs[3] : NULL,
                                    err);
  if (rc == 0)
    rc = h2k_fix_job_check(&jobs[0], err);
  if (rc == 0)
    rc = h2k_fix_job_check(&jobs[1], err);
  if (rc == 0 && r.build)
    rc = h2k_fix_initramfs_regen_verify(c, &r, err);
  if (rc == 0 && grub_cmd)
    rc = h2k_fix_grub_regen_after(c, jobs[1].output, err);
  h2k_app_jobs_free(jobs, 4);
  h2k_initramfs_regen_free(&r);
  free(tools_cmd);
  return rc;
}

int h2k_guest_apply(h2k_fix_ctx *c, const h2k_plan *plan, h2k_error *err) {
  bool agent_pending = c->install_guest_agent;
  for (size_t i = 0; i < plan->n; i++) {
    const char *name = h2k_fix_op_name(plan->steps[i].op);
    if (plan->steps[i].op == H2K_OP_TRIM && agent_pending) {
      agent_pending = false; /* every write before the trim */
      if (h2k_fix_guest_agent(c, err) < 0)
        return -1;
    }
    h2k_info("fix %zu/%zu: %s", i + 1, plan->n, name);
    bool tools, regen, grub;
    size_t n_cmd = command_steps(c, plan, i, &tools, &regen, &grub);
    if (n_cmd) {
      if (run_command_steps(c, tools, regen, grub, err) < 0) {
        h2k_err_wrap(err, "fix '%s' failed", name);
        return -1;
      }
      i += n_cmd - 1; /* the steps that ran alongside */
      continue;
    }
    if (run_step(c, plan->steps[i].op, err) < 0) {
      h2k_err_wrap(err, "fix '%s' failed", name);
      return -1;
    }
  }
  if (agent_pending && h2k_fix_guest_agent(c, err) < 0)
    return -1;
  return 0;
}
