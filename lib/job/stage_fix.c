/* FIX: apply the plan inside the appliance, into the overlays; then shut
 * the appliance down so every write is in the overlays before CONVERT reads
 * them. The source is never written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/util.h"
#include "guest/fix_apply.h"
#include "job/guest_work.h"

static h2k_net_level net_level(const char *s) {
  if (s && !strcmp(s, "conservative"))
    return H2K_NET_CONSERVATIVE;
  if (s && !strcmp(s, "aggressive"))
    return H2K_NET_AGGRESSIVE;
  return H2K_NET_MODERATE;
}

static int apply(h2k_job *job, h2k_guest_work *w, h2k_error *err) {
  const char **macs = calloc(job->vm->n_nics + 1, sizeof *macs);
  if (!macs) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < job->vm->n_nics; i++)
    macs[i] = job->vm->nics[i].mac ? job->vm->nics[i].mac : "";
  h2k_fix_ctx c = {
      .a = w->session.app,
      .id = &w->id,
      .net_level = net_level(h2k_cfg_str(job->cfg, H2K_OPT_NETWORK_FIX_LEVEL)),
      .source_macs = macs,
      .n_nics = job->vm->n_nics,
      .install_guest_agent =
          h2k_cfg_bool(job->cfg, H2K_OPT_INSTALL_GUEST_AGENT),
      .log = &w->changes,
  };
  h2k_fstab_mode_parse(h2k_cfg_str(job->cfg, H2K_OPT_FSTAB_MODE),
                       &c.fstab_mode);
  h2k_guest_storage_devmap(&w->storage, &c.map);
  int rc = h2k_guest_apply(&c, &w->plan, err);
  free(macs);
  return rc;
}

/* guest.json in the job directory: what a resumed run reports. */
static void save_guest_json(h2k_job *job) {
  json_object *o = h2k_guest_json(job);
  if (!o)
    return;
  char *p = h2k_path_join(job->job_dir, H2K_GUEST_JSON);
  const char *text = json_object_to_json_string(o);
  h2k_error e = {0};
  if (h2k_write_file_atomic(p, text, strlen(text), 0600, &e) < 0)
    h2k_warn("%s", h2k_error_text(&e));
  h2k_err_clear(&e);
  free(p);
  json_object_put(o);
}

/* The overlay paths, kept past the session for CONVERT. */
static int record_overlays(h2k_job *job, h2k_guest_work *w) {
  for (size_t i = 0; i < job->n_disks; i++)
    if (!(job->disks[i].overlay = strdup(w->session.overlays[i])))
      return -1;
  return 0;
}

int h2k_stage_fix(h2k_job *job, h2k_error *err) {
  h2k_stage_result *r = &job->stages[H2K_STAGE_FIX];
  h2k_guest_work *w = job->guest;
  if (w && w->resumed) {
    r->status = H2K_ST_RESUMED;
    snprintf(r->message, sizeof r->message,
             "done before the interruption (fixed overlays reused)");
    return 0;
  }
  if (!w || !w->planned) {
    r->status = H2K_ST_SKIPPED;
    snprintf(r->message, sizeof r->message, "nothing planned");
    return 0;
  }
  if (apply(job, w, err) < 0)
    return -1;
  /* Shut down before anything reads the overlays: the appliance caches. */
  if (record_overlays(job, w) < 0) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  int rc = h2k_guest_session_close(&w->session, false, err);
  w->session_open = false;
  if (rc < 0)
    return -1;
  for (size_t i = 0; i < job->n_disks; i++) {
    char name[32];
    snprintf(name, sizeof name, "overlay%zu", i);
    if (h2k_job_add_artifact(job, "fix", name, job->disks[i].overlay, err) < 0)
      return -1;
  }
  w->fixed = true;
  save_guest_json(job);
  size_t files = 0;
  for (size_t i = 0; i < w->changes.n; i++)
    if (i == 0 ||
        strcmp(w->changes.items[i].file, w->changes.items[i - 1].file) != 0)
      files++;
  snprintf(r->message, sizeof r->message,
           "%zu plan step(s) applied: %zu change(s) in %zu file(s)/command(s)",
           w->plan.n, w->changes.n, files);
  return 0;
}
