/* PLAN: the pure planner (lib/plan) on what INSPECT found and the options.
 * --dry-run prints the result. */
#include <stdio.h>

#include "core/log.h"
#include "job/guest_work.h"

static void plan_opts(const h2k_config *cfg, h2k_plan_opts *o) {
  o->fstab_mode = h2k_cfg_str(cfg, H2K_OPT_FSTAB_MODE);
  o->regen_initramfs = h2k_cfg_bool(cfg, H2K_OPT_REGEN_INITRAMFS);
  o->update_grub = h2k_cfg_bool(cfg, H2K_OPT_UPDATE_GRUB);
  o->network_fix_level = h2k_cfg_str(cfg, H2K_OPT_NETWORK_FIX_LEVEL);
  o->remove_vmware_tools = h2k_cfg_bool(cfg, H2K_OPT_REMOVE_VMWARE_TOOLS);
  o->trim = h2k_cfg_bool(cfg, H2K_OPT_TRIM);
}

int h2k_stage_plan(h2k_job *job, h2k_error *err) {
  h2k_stage_result *r = &job->stages[H2K_STAGE_PLAN];
  h2k_guest_work *w = job->guest;
  if (w && w->resumed) {
    r->status = H2K_ST_RESUMED;
    snprintf(r->message, sizeof r->message, "done before the interruption");
    return 0;
  }
  if (!w || !w->inspected) {
    r->status = H2K_ST_SKIPPED;
    snprintf(r->message, sizeof r->message, "the guest was not inspected");
    return 0;
  }
  h2k_plan_opts o;
  plan_opts(job->cfg, &o);
  if (h2k_plan_build(&w->id, &o, &w->plan, err) < 0)
    return -1;
  w->planned = true;
  h2k_buf ops = {0};
  for (size_t i = 0; i < w->plan.n; i++) {
    h2k_buf_printf(&ops, "%s%s", i ? ", " : "",
                   h2k_fix_op_name(w->plan.steps[i].op));
    h2k_debug("plan %zu: %s: %s", i + 1, h2k_fix_op_name(w->plan.steps[i].op),
              w->plan.steps[i].reason);
  }
  snprintf(r->message, sizeof r->message, "%zu fix(es): %s", w->plan.n,
           ops.data ? ops.data : "none");
  h2k_buf_free(&ops);
  return 0;
}
