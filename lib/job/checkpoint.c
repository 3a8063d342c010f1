#include "job/checkpoint.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/util.h"

static json_object *fp_to_json(const char *path, const h2k_fingerprint *fp) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "path", json_object_new_string(path));
  json_object_object_add(o, "size", json_object_new_int64((int64_t)fp->size));
  json_object_object_add(o, "mtime_ns", json_object_new_int64(fp->mtime_ns));
  json_object_object_add(o, "dev", json_object_new_int64((int64_t)fp->dev));
  json_object_object_add(o, "ino", json_object_new_int64((int64_t)fp->ino));
  json_object_object_add(o, "sample_sha256",
                         json_object_new_string(fp->sample_sha256));
  return o;
}

static const char *jstr(json_object *o, const char *key) {
  json_object *v;
  return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v)
                                               : NULL;
}

static int64_t jint(json_object *o, const char *key) {
  json_object *v;
  return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

static void fp_from_json(json_object *o, h2k_fingerprint *fp) {
  memset(fp, 0, sizeof *fp);
  fp->size = (uint64_t)jint(o, "size");
  fp->mtime_ns = jint(o, "mtime_ns");
  fp->dev = (uint64_t)jint(o, "dev");
  fp->ino = (uint64_t)jint(o, "ino");
  const char *s = jstr(o, "sample_sha256");
  snprintf(fp->sample_sha256, sizeof fp->sample_sha256, "%s", s ? s : "");
}

/* The options that shape the output, as a JSON object key → value. */
static json_object *options_json(const h2k_config *cfg) {
  json_object *o = json_object_new_object();
  for (size_t i = 0; i < H2K_OPT_COUNT_; i++) {
    const h2k_option_def *d = &h2k_options[i];
    if (!h2k_option_shapes_output(d) || (d->flags & OPT_SECRET))
      continue;
    const char *v = cfg->v[i].text;
    json_object_object_add(o, d->key, v ? json_object_new_string(v) : NULL);
  }
  return o;
}

int h2k_checkpoint_write(h2k_job *job, enum h2k_stage_id current,
                         h2k_error *err) {
  if (!job->job_dir || job->dry_run)
    return 0;
  json_object *root = json_object_new_object();
  char now[32];
  h2k_now_iso8601(now, sizeof now);
  json_object_object_add(root, "format", json_object_new_int(1));
  json_object_object_add(root, "tool_version",
                         json_object_new_string(H2K_VERSION_STRING));
  json_object_object_add(root, "job_key", json_object_new_string(job->job_key));
  json_object_object_add(root, "command", json_object_new_string(job->command));
  json_object_object_add(root, "vm_name", json_object_new_string(job->vm_name));
  json_object_object_add(root, "input", json_object_new_string(job->input));
  json_object_object_add(root, "created", json_object_new_string(job->created));
  json_object_object_add(root, "updated", json_object_new_string(now));
  json_object_object_add(root, "options_hash",
                         json_object_new_string(job->options_hash));
  json_object_object_add(root, "options", options_json(job->cfg));
  json_object_object_add(root, "current_stage",
                         current < H2K_STAGE_COUNT_
                             ? json_object_new_string(h2k_stage_name(current))
                             : NULL);
  json_object *done = json_object_new_array();
  json_object *stages = json_object_new_object();
  for (int s = 0; s < H2K_STAGE_COUNT_; s++) {
    const h2k_stage_result *r = &job->stages[s];
    bool completed = r->status == H2K_ST_OK || r->status == H2K_ST_NOOP ||
                     r->status == H2K_ST_RESUMED || r->status == H2K_ST_SKIPPED;
    if (completed)
      json_object_array_add(done, json_object_new_string(h2k_stage_name(s)));
    json_object *so = json_object_new_object();
    json_object_object_add(
        so, "status", json_object_new_string(h2k_stage_status_name(r->status)));
    json_object_object_add(so, "duration_s",
                           json_object_new_double(r->duration_s));
    json_object_object_add(stages, h2k_stage_name(s), so);
  }
  json_object_object_add(root, "completed_stages", done);
  json_object_object_add(root, "stages", stages);
  json_object *inputs = json_object_new_array();
  for (size_t i = 0; i < job->n_inputs; i++)
    json_object_array_add(inputs,
                          fp_to_json(job->input_files[i], &job->input_fps[i]));
  json_object_object_add(root, "inputs", inputs);
  json_object *arts = json_object_new_array();
  for (size_t i = 0; i < job->n_artifacts; i++) {
    const h2k_artifact *a = &job->artifacts[i];
    json_object *ao = fp_to_json(a->path, &a->fp);
    json_object_object_add(ao, "stage", json_object_new_string(a->stage));
    json_object_object_add(ao, "name", json_object_new_string(a->name));
    if (a->sha256[0])
      json_object_object_add(ao, "sha256", json_object_new_string(a->sha256));
    json_object_array_add(arts, ao);
  }
  json_object_object_add(root, "artifacts", arts);

  const char *text = json_object_to_json_string_ext(
      root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
  char *path = h2k_path_join(job->job_dir, H2K_CHECKPOINT_FILE);
  int rc = h2k_write_file_atomic(path, text, strlen(text), 0600, err);
  free(path);
  json_object_put(root);
  return rc;
}

/* Name the options whose values differ from the checkpoint's. */
static int compare_options(h2k_job *job, json_object *saved, h2k_error *err) {
  json_object *now = options_json(job->cfg);
  h2k_buf diff = {0};
  json_object_object_foreach(now, key, val) {
    json_object *old = NULL;
    json_object_object_get_ex(saved, key, &old);
    const char *a = old ? json_object_get_string(old) : NULL;
    const char *b = val ? json_object_get_string(val) : NULL;
    if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
      h2k_buf_printf(&diff, "%s%s (was %s, now %s)", diff.len ? ", " : "", key,
                     a ? a : "unset", b ? b : "unset");
  }
  json_object_put(now);
  if (!diff.len)
    return 0;
  h2k_err_set(err, H2K_E_RESUME,
              "cannot resume job '%s': options changed since it was "
              "interrupted: %s",
              job->vm_name, diff.data);
  h2k_err_hint(err, "run again with the same options, or without --resume "
                    "to start over");
  h2k_buf_free(&diff);
  return -1;
}

static int compare_inputs(h2k_job *job, json_object *inputs, h2k_error *err) {
  size_t n = json_object_array_length(inputs);
  for (size_t i = 0; i < n; i++) {
    json_object *o = json_object_array_get_idx(inputs, i);
    const char *path = jstr(o, "path");
    if (!path)
      continue;
    h2k_fingerprint was, is;
    fp_from_json(o, &was);
    h2k_error e2 = {0};
    const char *what = NULL;
    if (h2k_fingerprint_file(path, &is, &e2) < 0)
      what = "it can no longer be read";
    else if (is.size != was.size)
      what = "its size changed";
    else if (is.mtime_ns != was.mtime_ns)
      what = "its modification time changed";
    else if (is.ino != was.ino || is.dev != was.dev)
      what = "it was replaced by another file";
    else if (strcmp(is.sample_sha256, was.sample_sha256) != 0)
      what = "its content changed";
    if (what) {
      h2k_err_set(err, H2K_E_RESUME,
                  "cannot resume job '%s': input '%s' changed since the "
                  "checkpoint (%s)",
                  job->vm_name, path, what);
      h2k_err_hint(err, "run without --resume to convert it from the start");
      return -1;
    }
  }
  return 0;
}

static void load_artifacts(h2k_job *job, json_object *arts) {
  size_t n = json_object_array_length(arts);
  for (size_t i = 0; i < n; i++) {
    json_object *o = json_object_array_get_idx(arts, i);
    const char *stage = jstr(o, "stage"), *name = jstr(o, "name"),
               *path = jstr(o, "path");
    if (!stage || !name || !path)
      continue;
    h2k_fingerprint fp;
    fp_from_json(o, &fp);
    h2k_artifact *a = h2k_job_push_artifact(job, stage, name, path, &fp);
    if (!a)
      return;
    const char *sha = jstr(o, "sha256");
    snprintf(a->sha256, sizeof a->sha256, "%s", sha ? sha : "");
  }
}

int h2k_checkpoint_load(h2k_job *job, h2k_error *err) {
  char *path = h2k_path_join(job->job_dir, H2K_CHECKPOINT_FILE);
  if (!h2k_path_exists(path)) {
    free(path);
    return 0;
  }
  json_object *root = json_object_from_file(path);
  if (!root) {
    h2k_err_set(err, H2K_E_RESUME,
                "cannot resume: checkpoint '%s' is unreadable or corrupt",
                path);
    h2k_err_hint(err, "run without --resume to start over");
    free(path);
    return -1;
  }
  int rc = -1;
  const char *key = jstr(root, "job_key");
  const char *ver = jstr(root, "tool_version");
  json_object *opts = NULL, *inputs = NULL, *done = NULL, *arts = NULL;
  if (!key || strcmp(key, job->job_key) != 0) {
    h2k_err_set(err, H2K_E_RESUME,
                "cannot resume: checkpoint '%s' belongs to another job", path);
    goto out;
  }
  if (!ver || strcmp(ver, H2K_VERSION_STRING) != 0) {
    h2k_err_set(err, H2K_E_RESUME,
                "cannot resume: the checkpoint was written by hyper2kvm %s, "
                "this is %s",
                ver ? ver : "?", H2K_VERSION_STRING);
    h2k_err_hint(err, "run without --resume to start over");
    goto out;
  }
  if (json_object_object_get_ex(root, "options", &opts) &&
      compare_options(job, opts, err) < 0)
    goto out;
  if (json_object_object_get_ex(root, "inputs", &inputs) &&
      compare_inputs(job, inputs, err) < 0)
    goto out;
  if (json_object_object_get_ex(root, "completed_stages", &done)) {
    size_t n = json_object_array_length(done);
    for (size_t i = 0; i < n; i++) {
      const char *s =
          json_object_get_string(json_object_array_get_idx(done, i));
      for (int st = 0; st < H2K_STAGE_COUNT_; st++)
        if (s && strcmp(s, h2k_stage_name(st)) == 0)
          job->stage_done_before[st] = true;
    }
  }
  if (json_object_object_get_ex(root, "artifacts", &arts))
    load_artifacts(job, arts);
  const char *created = jstr(root, "created");
  if (created)
    snprintf(job->created, sizeof job->created, "%s", created);
  rc = 1;
out:
  json_object_put(root);
  free(path);
  return rc;
}
