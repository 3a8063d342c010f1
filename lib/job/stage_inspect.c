/* INSPECT: export the disks, put an overlay on each, launch the appliance
 * once for the job and learn what the guest is (GuestIdentity). The
 * session stays open for FIX. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/util.h"
#include "job/guest_work.h"

static const char *net_summary(unsigned s) {
  if (s & H2K_NETCFG_NETPLAN)
    return "netplan";
  if (s & H2K_NETCFG_NM)
    return "NetworkManager";
  if (s & H2K_NETCFG_NETWORKD)
    return "systemd-networkd";
  if (s & H2K_NETCFG_IFCFG)
    return "ifcfg";
  if (s & H2K_NETCFG_WICKED)
    return "wicked";
  if (s & H2K_NETCFG_IFUPDOWN)
    return "ifupdown";
  return "none found";
}

/* After an interruption past FIX: the fixed overlays are reused as they
 * are, if the checkpoint vouches for every one of them. */
static bool resume_fixed(h2k_job *job, h2k_guest_work *w) {
  if (!job->stage_done_before[H2K_STAGE_FIX])
    return false;
  for (size_t i = 0; i < job->n_disks; i++) {
    char name[32];
    snprintf(name, sizeof name, "overlay%zu", i);
    const h2k_artifact *a = h2k_job_find_artifact(job, "fix", name);
    h2k_fingerprint now;
    h2k_error e = {0};
    if (!a || h2k_fingerprint_file(a->path, &now, &e) < 0 ||
        now.size != a->fp.size || now.mtime_ns != a->fp.mtime_ns ||
        strcmp(now.sample_sha256, a->fp.sample_sha256) != 0) {
      h2k_err_clear(&e);
      h2k_job_warn(job,
                   "the fixed overlay of disk %zu changed or is gone; "
                   "inspecting and fixing again",
                   i);
      return false;
    }
  }
  for (size_t i = 0; i < job->n_disks; i++) {
    char name[32];
    snprintf(name, sizeof name, "overlay%zu", i);
    job->disks[i].overlay =
        strdup(h2k_job_find_artifact(job, "fix", name)->path);
  }
  char *p = h2k_path_join(job->job_dir, H2K_GUEST_JSON);
  w->resumed = json_object_from_file(p);
  free(p);
  return true;
}

static char *overlay_dir(h2k_job *job, h2k_guest_work *w, h2k_error *err) {
  if (!job->dry_run)
    return h2k_path_join(job->job_dir, "tmp");
  char tmpl[] = "/var/tmp/hyper2kvm-dryrun.XXXXXX";
  if (!mkdtemp(tmpl)) {
    h2k_err_errno(err, H2K_E_ENV, errno, "cannot create a scratch directory");
    return NULL;
  }
  w->scratch_dir = strdup(tmpl);
  return strdup(tmpl);
}

static int open_session(h2k_job *job, h2k_guest_work *w, h2k_error *err) {
  char *dir = overlay_dir(job, w, err);
  if (!dir)
    return -1;
  h2k_image **imgs = calloc(job->n_disks ? job->n_disks : 1, sizeof *imgs);
  for (size_t i = 0; imgs && i < job->n_disks; i++)
    imgs[i] = job->disks[i].image;
  int rc =
      imgs ? h2k_guest_session_open(
                 &w->session, imgs, job->n_disks, dir,
                 !strcmp(h2k_cfg_str(job->cfg, H2K_OPT_INSPECTOR), "native"),
                 err)
           : -1;
  free(imgs);
  free(dir);
  if (rc == 0) {
    w->session_open = true;
    w->appliance_launch_s = w->session.app->launch_s;
  }
  return rc;
}

int h2k_stage_inspect(h2k_job *job, h2k_error *err) {
  h2k_stage_result *r = &job->stages[H2K_STAGE_INSPECT];
  if (!h2k_cfg_bool(job->cfg, H2K_OPT_INSPECT)) {
    r->status = H2K_ST_SKIPPED;
    snprintf(r->message, sizeof r->message,
             "--no-inspect: the disks are converted as they are, with no "
             "guest fixes");
    return 0;
  }
  h2k_guest_work *w = h2k_guest_work_get(job);
  if (!w) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  if (!job->dry_run && resume_fixed(job, w)) {
    r->status = H2K_ST_RESUMED;
    snprintf(r->message, sizeof r->message,
             "done before the interruption (fixed overlays verified)");
    return 0;
  }
  if (open_session(job, w, err) < 0)
    return -1;
  if (h2k_guest_inspect(w->session.app, job->n_disks, &w->id, &w->storage,
                        err) < 0)
    return -1;
  w->inspected = true;
  const h2k_guest_identity *id = &w->id;
  snprintf(r->message, sizeof r->message,
           "%s (%s), %zu kernel(s), network: %s%s (appliance up in %.0f s)",
           id->product_name ? id->product_name : "unknown OS",
           id->arch ? id->arch : "?", id->n_kernels,
           net_summary(id->net_styles),
           id->vmware_tools ? ", VMware tools installed" : "",
           w->appliance_launch_s);
  h2k_info("%s", r->message);
  return 0;
}
