#include "job/events.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

static struct {
  bool json, progress, quiet, tty;
  pthread_mutex_t lock;
  double last_emit;
  int last_decile;
} g_ev = {.progress = true, .lock = PTHREAD_MUTEX_INITIALIZER};

void h2k_events_setup(bool json, bool progress, bool quiet) {
  g_ev.json = json;
  g_ev.progress = progress;
  g_ev.quiet = quiet;
  g_ev.tty = isatty(STDERR_FILENO);
}

bool h2k_events_json(void) {
  return g_ev.json;
}

static void emit(json_object *o) {
  pthread_mutex_lock(&g_ev.lock);
  fprintf(stdout, "%s\n",
          json_object_to_json_string_ext(
              o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  fflush(stdout);
  pthread_mutex_unlock(&g_ev.lock);
  json_object_put(o);
}

static json_object *event(const char *name) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "event", json_object_new_string(name));
  return o;
}

void h2k_event_raw(const char *name, const char *fields_json) {
  if (!g_ev.json)
    return;
  json_object *o = fields_json ? json_tokener_parse(fields_json) : NULL;
  if (!o || !json_object_is_type(o, json_type_object)) {
    json_object_put(o);
    o = json_object_new_object();
  }
  json_object_object_add(o, "event", json_object_new_string(name));
  emit(o);
}

void h2k_event_job_start(const h2k_job *job) {
  h2k_info("converting %s '%s' (VM '%s')", job->command, job->input,
           job->vm_name);
  if (!g_ev.json)
    return;
  json_object *o = event("job_start");
  json_object_object_add(o, "command", json_object_new_string(job->command));
  json_object_object_add(o, "input", json_object_new_string(job->input));
  json_object_object_add(o, "vm_name", json_object_new_string(job->vm_name));
  json_object_object_add(o, "dry_run", json_object_new_boolean(job->dry_run));
  emit(o);
}

void h2k_event_stage_start(const h2k_job *job, enum h2k_stage_id st) {
  (void)job;
  h2k_info("start");
  if (!g_ev.json)
    return;
  json_object *o = event("stage_start");
  json_object_object_add(o, "stage",
                         json_object_new_string(h2k_stage_name(st)));
  emit(o);
}

void h2k_event_stage_end(const h2k_job *job, enum h2k_stage_id st) {
  const h2k_stage_result *r = &job->stages[st];
  if (r->status == H2K_ST_FAILED)
    h2k_error_log("failed after %.2f s", r->duration_s);
  else
    h2k_info("end: %s (%.2f s)%s%s", h2k_stage_status_name(r->status),
             r->duration_s, r->message[0] ? " — " : "", r->message);
  if (!g_ev.json)
    return;
  json_object *o = event("stage_end");
  json_object_object_add(o, "stage",
                         json_object_new_string(h2k_stage_name(st)));
  json_object_object_add(
      o, "status", json_object_new_string(h2k_stage_status_name(r->status)));
  json_object_object_add(o, "duration_s",
                         json_object_new_double(r->duration_s));
  json_object_object_add(o, "message", json_object_new_string(r->message));
  emit(o);
}

static void draw_bar(const char *stage, size_t disk, uint64_t done,
                     uint64_t total) {
  int pct = total ? (int)(done * 100 / total) : 100;
  int fill = pct * 30 / 100;
  char bar[31];
  memset(bar, '#', (size_t)fill);
  memset(bar + fill, '-', (size_t)(30 - fill));
  bar[30] = '\0';
  fprintf(stderr, "\r%s disk %zu [%s] %3d%%", stage, disk, bar, pct);
  if (done >= total)
    fputc('\n', stderr);
  fflush(stderr);
}

void h2k_event_progress(const char *stage, size_t disk, uint64_t done,
                        uint64_t total) {
  if (g_ev.quiet || !g_ev.progress)
    return;
  double now = h2k_now_monotonic();
  pthread_mutex_lock(&g_ev.lock);
  bool final = done >= total;
  bool due = final || now - g_ev.last_emit >= (g_ev.tty ? 0.1 : 1.0);
  int decile = total ? (int)(done * 10 / total) : 10;
  if (!g_ev.json && !g_ev.tty)
    due = final || decile > g_ev.last_decile; /* plain lines every 10% */
  if (due) {
    g_ev.last_emit = now;
    g_ev.last_decile = final ? 0 : decile;
  }
  pthread_mutex_unlock(&g_ev.lock);
  if (!due)
    return;
  if (g_ev.json) {
    json_object *o = event("progress");
    json_object_object_add(o, "stage", json_object_new_string(stage));
    json_object_object_add(o, "disk", json_object_new_int((int)disk));
    json_object_object_add(o, "done", json_object_new_int64((int64_t)done));
    json_object_object_add(o, "total", json_object_new_int64((int64_t)total));
    emit(o);
  } else if (g_ev.tty) {
    draw_bar(stage, disk, done, total);
  } else {
    h2k_info("disk %zu: %d%%", disk, total ? (int)(done * 100 / total) : 100);
  }
}

void h2k_event_result(const h2k_job *job, const h2k_error *err) {
  double secs = h2k_now_monotonic() - job->t_start;
  if (!err && !job->dry_run)
    h2k_info("done in %.1f s: %s", secs, job->out_dir ? job->out_dir : "");
  if (!g_ev.json)
    return;
  json_object *o = event("result");
  json_object_object_add(o, "status",
                         json_object_new_string(err ? "failed" : "ok"));
  json_object_object_add(o, "exit_code",
                         json_object_new_int(err ? err->code : 0));
  json_object_object_add(o, "vm_name", json_object_new_string(job->vm_name));
  json_object_object_add(o, "dry_run", json_object_new_boolean(job->dry_run));
  if (job->out_dir)
    json_object_object_add(o, "output_dir",
                           json_object_new_string(job->out_dir));
  if (err)
    json_object_object_add(o, "error",
                           json_object_new_string(h2k_error_text(err)));
  json_object *disks = json_object_new_array();
  for (size_t i = 0; i < job->n_disks; i++) {
    const h2k_disk_job *d = &job->disks[i];
    json_object *dj = json_object_new_object();
    json_object_object_add(dj, "source", json_object_new_string(d->src->path));
    if (!err && !job->dry_run && d->out_final)
      json_object_object_add(dj, "output",
                             json_object_new_string(d->out_final));
    if (d->sha256[0])
      json_object_object_add(dj, "sha256", json_object_new_string(d->sha256));
    json_object_array_add(disks, dj);
  }
  json_object_object_add(o, "disks", disks);
  json_object_object_add(o, "duration_s", json_object_new_double(secs));
  emit(o);
}
