/* CONVERT: copy every (flattened) disk into its output format with the
 * image engine, under a temporary name; the pipeline renames it when the
 * whole job has succeeded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/util.h"
#include "image/convert.h"
#include "job/events.h"
#include "job/job.h"

struct progress_ctx {
  size_t disk;
};

static void on_progress(uint64_t done, uint64_t total, void *opaque) {
  const struct progress_ctx *p = opaque;
  h2k_event_progress("convert", p->disk, done, total);
}

static void fill_opts(const h2k_job *job, h2k_convert_opts *o) {
  size_t parallel_disks =
      h2k_cfg_bool(job->cfg, H2K_OPT_PARALLEL_PROCESSING) ? job->n_disks : 1;
  int threads = job->workers / (int)(parallel_disks ? parallel_disks : 1);
  h2k_convert_opts_from_config(job->cfg, threads > 0 ? threads : 1, o);
  if (o->out_format == H2K_OUT_RAW) /* raw has no compression */
    o->compress = H2K_COMPRESS_NONE;
}

/* A partial output from an interrupted run that the checkpoint vouches for:
 * same file, same fingerprint. */
static bool already_converted(h2k_job *job, h2k_disk_job *d) {
  if (!job->stage_done_before[H2K_STAGE_CONVERT])
    return false;
  char name[32];
  snprintf(name, sizeof name, "disk%zu", d->index);
  const h2k_artifact *a = h2k_job_find_artifact(job, "convert", name);
  if (!a || strcmp(a->path, d->out_partial) != 0)
    return false;
  h2k_fingerprint now;
  h2k_error e = {0};
  if (h2k_fingerprint_file(a->path, &now, &e) < 0)
    return false;
  if (now.size != a->fp.size || now.mtime_ns != a->fp.mtime_ns ||
      strcmp(now.sample_sha256, a->fp.sample_sha256) != 0) {
    h2k_job_warn(job,
                 "disk %zu: output from the interrupted run changed; "
                 "converting again",
                 d->index);
    return false;
  }
  d->out_bytes = now.size;
  snprintf(d->sha256, sizeof d->sha256, "%s", a->sha256);
  return true;
}

/* After FIX the guest's disk is the overlay on top of the source chain. */
static int use_overlay(h2k_disk_job *d, h2k_error *err) {
  if (!d->overlay || !strcmp(h2k_image_path(d->image), d->overlay))
    return 0;
  h2k_image *top = h2k_image_open_overlay(d->overlay, d->image, err);
  if (!top) {
    h2k_err_wrap(err, "disk %zu: cannot read the fixed overlay", d->index);
    return -1;
  }
  d->image = top;
  return 0;
}

static int convert_disk(h2k_job *job, h2k_disk_job *d, h2k_error *err) {
  if (use_overlay(d, err) < 0)
    return -1;
  if (already_converted(job, d)) {
    h2k_info("disk %zu: already converted before the interruption (%s)",
             d->index, d->out_partial);
    return 0;
  }
  h2k_convert_opts o;
  fill_opts(job, &o);
  struct progress_ctx pc = {d->index};
  o.progress = on_progress;
  o.progress_opaque = &pc;
  o.cancel = &job->cancel;
  if (unlink(d->out_partial) < 0 && errno != ENOENT) {
    h2k_err_errno(err, H2K_E_IO, errno, "cannot remove stale '%s'",
                  d->out_partial);
    return -1;
  }
  h2k_convert_result res;
  memset(&res, 0, sizeof res);
  double t0 = h2k_now_monotonic();
  if (h2k_convert(d->image, d->out_partial, &o, &res, err) < 0) {
    h2k_err_wrap(err, "disk %zu: converting '%s' failed", d->index,
                 d->src->path);
    return -1;
  }
  d->convert_s = h2k_now_monotonic() - t0;
  d->out_bytes = res.bytes_written;
  if (o.want_sha256)
    snprintf(d->sha256, sizeof d->sha256, "%s", res.sha256);
  char name[32];
  snprintf(name, sizeof name, "disk%zu", d->index);
  if (h2k_job_add_artifact(job, "convert", name, d->out_partial, err) < 0)
    return -1;
  if (d->sha256[0]) {
    h2k_artifact *a =
        (h2k_artifact *)h2k_job_find_artifact(job, "convert", name);
    snprintf(a->sha256, sizeof a->sha256, "%s", d->sha256);
  }
  char w[32];
  h2k_info("disk %zu: wrote %s (%s) in %.1f s", d->index, d->out_name,
           h2k_format_bytes(d->out_bytes, w, sizeof w), d->convert_s);
  return 0;
}

int h2k_stage_convert(h2k_job *job, h2k_error *err) {
  if (h2k_mkdir_p(job->out_dir, 0755, err) < 0) {
    h2k_err_wrap(err, "cannot create output directory '%s'", job->out_dir);
    h2k_err_hint(err, "choose another one with --output-dir DIR");
    return -1;
  }
  if (h2k_job_for_each_disk(job, convert_disk, err) < 0)
    return -1;
  bool all_resumed = true;
  for (size_t i = 0; i < job->n_disks; i++)
    if (job->disks[i].convert_s > 0)
      all_resumed = false;
  h2k_stage_result *r = &job->stages[H2K_STAGE_CONVERT];
  if (all_resumed) {
    r->status = H2K_ST_RESUMED;
    snprintf(r->message, sizeof r->message,
             "done before the interruption (outputs verified)");
  } else {
    snprintf(r->message, sizeof r->message, "%zu disk(s) written as %s",
             job->n_disks, h2k_cfg_str(job->cfg, H2K_OPT_OUT_FORMAT));
  }
  return 0;
}
