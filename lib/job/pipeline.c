#include "job/pipeline.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/util.h"
#include "job/checkpoint.h"
#include "job/convdir.h"
#include "job/events.h"
#include "job/report.h"

const h2k_stage h2k_pipeline[H2K_STAGE_COUNT_] = {
    {H2K_STAGE_FETCH, "source path(s) from the command or YAML",
     "local disk files, VM model, input fingerprints", h2k_stage_fetch, true},
    {H2K_STAGE_FLATTEN, "disk chains (base + snapshot deltas)",
     "one logical disk per chain (flattened while converting)",
     h2k_stage_flatten, true},
    {H2K_STAGE_INSPECT, "logical disks", "guest identity", h2k_stage_inspect,
     true},
    {H2K_STAGE_PLAN, "guest identity + options", "ordered fix operations",
     h2k_stage_plan, true},
    {H2K_STAGE_FIX, "fix operations", "fixed guest (in an overlay)",
     h2k_stage_fix, false},
    {H2K_STAGE_CONVERT, "logical disks (+ overlay)",
     "output disks under temporary names", h2k_stage_convert, false},
    {H2K_STAGE_VALIDATE, "output disks", "boot and network verdict",
     h2k_stage_validate, false},
};

/* Testing hook: HYPER2KVM_TEST_KILL_AFTER=<stage> kills the process with
 * SIGKILL right after that stage's checkpoint is on disk, to prove that an
 * interrupted job resumes. */
static void maybe_test_kill(enum h2k_stage_id st) {
  const char *k = getenv("HYPER2KVM_TEST_KILL_AFTER");
  if (k && strcmp(k, h2k_stage_name(st)) == 0) {
    fflush(NULL);
    raise(SIGKILL);
  }
}

/* Forget an earlier run: its checkpoint and temporary files. */
static void clear_job_dir(const char *dir) {
  char *p;
  struct stat st;
  const char *entries[] = {H2K_CHECKPOINT_FILE, "tmp"};
  for (size_t i = 0; i < sizeof entries / sizeof *entries; i++) {
    p = h2k_path_join(dir, entries[i]);
    if (lstat(p, &st) == 0)
      h2k_remove_tree(p);
    free(p);
  }
}

static int open_job_dir(h2k_job *job, h2k_error *err) {
  job->conv_root = h2k_cfg_conversion_dir(job->cfg);
  if (!job->conv_root) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  char leaf[256];
  snprintf(leaf, sizeof leaf, "%s.%.12s", job->vm_name, job->job_key);
  job->job_dir = h2k_path_join(job->conv_root, leaf);
  if (job->dry_run)
    return h2k_convdir_check(job->conv_root, err);
  if (h2k_convdir_prepare(job->conv_root, err) < 0)
    return -1;
  job->lock_fd = h2k_jobdir_open(job->job_dir, err);
  if (job->lock_fd < 0)
    return -1;
  h2k_debug("job directory %s", job->job_dir);
  char *tmp = h2k_path_join(job->job_dir, "tmp");
  mkdir(tmp, 0700);
  free(tmp);
  return 0;
}

static int load_or_reset_checkpoint(h2k_job *job, h2k_error *err) {
  if (job->dry_run)
    return 0;
  char *cp = h2k_path_join(job->job_dir, H2K_CHECKPOINT_FILE);
  bool exists = h2k_path_exists(cp);
  free(cp);
  if (!job->resume) {
    if (exists) {
      h2k_job_warn(job, "discarding the checkpoint of an earlier interrupted "
                        "run of this job (use --resume to continue one)");
      clear_job_dir(job->job_dir);
      char *tmp = h2k_path_join(job->job_dir, "tmp");
      mkdir(tmp, 0700);
      free(tmp);
    }
    return 0;
  }
  if (!exists) {
    h2k_info("no checkpoint to resume for '%s'; starting from the beginning",
             job->vm_name);
    return 0;
  }
  int rc = h2k_checkpoint_load(job, err);
  if (rc < 0)
    return -1;
  h2k_info("resuming job '%s' from its checkpoint", job->vm_name);
  return 0;
}

static int run_stage(h2k_job *job, const h2k_stage *st, h2k_error *err) {
  h2k_stage_result *r = &job->stages[st->id];
  if (job->dry_run && !st->in_dry_run) {
    r->status = H2K_ST_SKIPPED;
    snprintf(r->message, sizeof r->message, "dry run: nothing written");
    return 0;
  }
  if (atomic_load(&job->cancel)) {
    h2k_err_set(err, H2K_E_CANCELLED, "interrupted before the %s stage",
                h2k_stage_name(st->id));
    return -1;
  }
  h2k_log_set_prefix(h2k_stage_name(st->id));
  h2k_now_iso8601(r->started, sizeof r->started);
  h2k_event_stage_start(job, st->id);
  double t0 = h2k_now_monotonic();
  int rc = st->run(job, err);
  r->duration_s = h2k_now_monotonic() - t0;
  if (rc < 0) {
    r->status = H2K_ST_FAILED;
    snprintf(r->message, sizeof r->message, "%s", h2k_error_text(err));
  } else if (r->status == H2K_ST_PENDING) {
    r->status = H2K_ST_OK;
  }
  h2k_event_stage_end(job, st->id);
  h2k_log_set_prefix(NULL);
  if (rc < 0) {
    char name[16];
    snprintf(name, sizeof name, "%s", h2k_stage_name(st->id));
    for (char *p = name; *p; p++)
      *p = (char)(*p - 32 * (*p >= 'a' && *p <= 'z'));
    h2k_err_wrap(err, "stage %s failed", name);
    return -1;
  }
  if (h2k_checkpoint_write(job, st->id + 1, err) < 0)
    return -1;
  maybe_test_kill(st->id);
  return 0;
}

/* Give every output its final name: nothing looks complete before this. */
static int commit_outputs(h2k_job *job, h2k_error *err) {
  for (size_t i = 0; i < job->n_disks; i++) {
    h2k_disk_job *d = &job->disks[i];
    if (!d->out_partial || !d->out_final)
      continue;
    /* on disk before it gets the name that says it is complete */
    if (h2k_fsync_path(d->out_partial) < 0) {
      h2k_err_errno(err, H2K_E_IO, errno, "cannot flush '%s' to disk",
                    d->out_partial);
      return -1;
    }
    if (h2k_path_exists(d->out_final))
      h2k_job_warn(job, "replacing existing %s", d->out_final);
    if (rename(d->out_partial, d->out_final) < 0) {
      h2k_err_errno(err, H2K_E_IO, errno, "cannot rename '%s' to '%s'",
                    d->out_partial, d->out_final);
      return -1;
    }
    h2k_fsync_parent(d->out_final);
  }
  return 0;
}

static void discard_partials(h2k_job *job) {
  for (size_t i = 0; i < job->n_disks; i++)
    if (job->disks[i].out_partial)
      unlink(job->disks[i].out_partial);
}

static void finish_job_dir(h2k_job *job, bool ok) {
  if (job->dry_run || !job->job_dir)
    return;
  bool keep = h2k_cfg_bool(job->cfg, H2K_OPT_KEEP_TEMP);
  bool recoverable = !ok && job->resume;
  if (keep || recoverable) {
    h2k_info("%s kept in %s%s", ok ? "temporary files" : "checkpoint",
             job->job_dir, recoverable ? " (run again with --resume)" : "");
    return;
  }
  if (h2k_remove_tree(job->job_dir) < 0)
    h2k_warn("cannot remove job directory %s: %s", job->job_dir,
             strerror(errno));
}

/* Final names, domain.xml and metadata.json. */
static int deliver_outputs(h2k_job *job, h2k_error *err) {
  int rc = commit_outputs(job, err);
  if (rc == 0)
    rc = h2k_job_write_domain(job, err);
  h2k_error e2 = {0};
  if (rc == 0 && h2k_metadata_write(job, &e2) < 0)
    h2k_job_warn(job, "%s", h2k_error_text(&e2));
  return rc;
}

/* Did every stage succeed but VALIDATE, which failed its boot check? */
static bool failed_only_validation(const h2k_job *job, const h2k_error *err) {
  return err->code == H2K_E_VALIDATE &&
         job->stages[H2K_STAGE_VALIDATE].status == H2K_ST_FAILED;
}

int h2k_job_run(h2k_job *job, h2k_error *err) {
  job->t_start = h2k_now_monotonic();
  h2k_event_job_start(job);
  int rc = open_job_dir(job, err);
  if (rc == 0)
    rc = load_or_reset_checkpoint(job, err);
  for (int s = 0; rc == 0 && s < H2K_STAGE_COUNT_; s++)
    rc = run_stage(job, &h2k_pipeline[s], err);
  if (rc == 0 && job->dry_run) {
    if (!job->inspect_only)
      h2k_report_print_plan(job);
  } else if (rc == 0) {
    rc = deliver_outputs(job, err);
  } else if (failed_only_validation(job, err)) {
    /* the guest failed VALIDATE: deliver it anyway, so the user can look
     * at it; the job keeps the validation error (exit status 7) */
    h2k_error e = {0};
    if (deliver_outputs(job, &e) < 0)
      *err = e;
  }
  if (!job->dry_run && job->out_dir) {
    h2k_error e3 = {0};
    if (h2k_report_write(job, rc < 0 ? err : NULL, &e3) < 0)
      h2k_warn("%s", h2k_error_text(&e3));
  }
  if (rc < 0 && !job->resume)
    discard_partials(job);
  finish_job_dir(job, rc == 0);
  h2k_event_result(job, rc < 0 ? err : NULL);
  return rc;
}
