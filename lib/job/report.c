#include "job/report.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/util.h"
#include "job/events.h"
#include "job/guest_work.h"
#include "job/pipeline.h"

static json_object *jstr_or_null(const char *s) {
  return s ? json_object_new_string(s) : NULL;
}

static json_object *stages_json(const h2k_job *job) {
  json_object *arr = json_object_new_array();
  for (int s = 0; s < H2K_STAGE_COUNT_; s++) {
    const h2k_stage_result *r = &job->stages[s];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "stage",
                           json_object_new_string(h2k_stage_name(s)));
    json_object_object_add(
        o, "status", json_object_new_string(h2k_stage_status_name(r->status)));
    json_object_object_add(o, "started",
                           jstr_or_null(r->started[0] ? r->started : NULL));
    json_object_object_add(o, "duration_s",
                           json_object_new_double(r->duration_s));
    json_object_object_add(o, "message", json_object_new_string(r->message));
    json_object_object_add(o, "inputs",
                           json_object_new_string(h2k_pipeline[s].inputs));
    json_object_object_add(o, "outputs",
                           json_object_new_string(h2k_pipeline[s].outputs));
    json_object_array_add(arr, o);
  }
  return arr;
}

static json_object *warnings_json(const h2k_job *job) {
  json_object *arr = json_object_new_array();
  for (size_t i = 0; i < job->n_warnings; i++)
    json_object_array_add(arr, json_object_new_string(job->warnings[i]));
  for (size_t i = 0; i < job->cfg->n_warnings; i++)
    json_object_array_add(arr, json_object_new_string(job->cfg->warnings[i]));
  return arr;
}

static int write_json(const char *dir, const char *name, json_object *root,
                      h2k_error *err) {
  const char *text = json_object_to_json_string_ext(
      root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
  char *path = h2k_path_join(dir, name);
  h2k_buf b = {0};
  h2k_buf_printf(&b, "%s\n", text);
  int rc = h2k_write_file_atomic(path, b.data, b.len, 0644, err);
  h2k_buf_free(&b);
  free(path);
  return rc;
}

static void write_markdown(const h2k_job *job, const h2k_error *failure,
                           h2k_buf *md) {
  h2k_buf_printf(md, "# hyper2kvm report: %s\n\n", job->vm_name);
  h2k_buf_printf(md, "- Result: **%s**\n", failure ? "FAILED" : "OK");
  h2k_buf_printf(md, "- Command: `%s`\n- Input: `%s`\n", job->command,
                 job->input);
  h2k_buf_printf(md, "- hyper2kvm %s, started %s\n", H2K_VERSION_STRING,
                 job->created);
  if (failure)
    h2k_buf_printf(md, "- Error: %s\n", h2k_error_text(failure));
  h2k_buf_printf(md, "\n## Stages\n\n| stage | status | seconds | notes |\n"
                     "|---|---|---|---|\n");
  for (int s = 0; s < H2K_STAGE_COUNT_; s++) {
    const h2k_stage_result *r = &job->stages[s];
    h2k_buf_printf(md, "| %s | %s | %.2f | %s |\n", h2k_stage_name(s),
                   h2k_stage_status_name(r->status), r->duration_s, r->message);
  }
  h2k_buf_printf(md, "\n## Disks\n\n");
  for (size_t i = 0; i < job->n_disks; i++) {
    const h2k_disk_job *d = &job->disks[i];
    char v[32], o[32];
    h2k_buf_printf(
        md, "- disk %zu: `%s` (%s, %s virtual, %zu layer(s)) → `%s` (%s)%s%s\n",
        i, d->src->path, d->format ? d->format : "?",
        h2k_format_bytes(d->virtual_size, v, sizeof v), d->chain_depth,
        d->out_name ? d->out_name : "-",
        h2k_format_bytes(d->out_bytes, o, sizeof o),
        d->sha256[0] ? ", sha256 " : "", d->sha256);
  }
  h2k_guest_markdown(job, md);
  h2k_validate_markdown(&job->validation, md);
  size_t nw = job->n_warnings + job->cfg->n_warnings;
  if (nw) {
    h2k_buf_printf(md, "\n## Warnings\n\n");
    for (size_t i = 0; i < job->n_warnings; i++)
      h2k_buf_printf(md, "- %s\n", job->warnings[i]);
    for (size_t i = 0; i < job->cfg->n_warnings; i++)
      h2k_buf_printf(md, "- %s\n", job->cfg->warnings[i]);
  }
}

int h2k_report_write(h2k_job *job, const h2k_error *failure, h2k_error *err) {
  if (h2k_mkdir_p(job->out_dir, 0755, err) < 0)
    return -1;
  json_object *root = json_object_new_object();
  json_object_object_add(root, "vm_name", json_object_new_string(job->vm_name));
  json_object_object_add(root, "status",
                         json_object_new_string(failure ? "failed" : "ok"));
  json_object_object_add(root, "exit_code",
                         json_object_new_int(failure ? failure->code : 0));
  json_object_object_add(
      root, "error",
      failure ? json_object_new_string(h2k_error_text(failure)) : NULL);
  json_object_object_add(root, "command", json_object_new_string(job->command));
  json_object_object_add(root, "input", json_object_new_string(job->input));
  json_object_object_add(root, "tool_version",
                         json_object_new_string(H2K_VERSION_STRING));
  json_object_object_add(root, "started", json_object_new_string(job->created));
  json_object_object_add(root, "stages", stages_json(job));
  json_object_object_add(root, "guest", h2k_guest_json(job));
  json_object_object_add(root, "validation",
                         h2k_validate_json(&job->validation));
  json_object_object_add(root, "warnings", warnings_json(job));
  int rc = write_json(job->out_dir, "report.json", root, err);
  json_object_put(root);
  if (rc < 0)
    return -1;
  h2k_buf md = {0};
  write_markdown(job, failure, &md);
  char *path = h2k_path_join(job->out_dir, "report.md");
  rc = h2k_write_file_atomic(path, md.data, md.len, 0644, err);
  free(path);
  h2k_buf_free(&md);
  return rc;
}

static json_object *vm_json(const h2k_vm *vm) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "name", jstr_or_null(vm->name));
  json_object_object_add(o, "uuid", jstr_or_null(vm->uuid));
  json_object_object_add(
      o, "firmware", json_object_new_string(h2k_firmware_name(vm->firmware)));
  json_object_object_add(o, "secure_boot",
                         json_object_new_boolean(vm->secure_boot));
  json_object_object_add(o, "vcpus", json_object_new_int(vm->vcpus));
  json_object_object_add(o, "memory_mb",
                         json_object_new_int64((int64_t)vm->memory_mb));
  json_object_object_add(o, "guest_os", jstr_or_null(vm->guest_os));
  json_object *nics = json_object_new_array();
  for (size_t i = 0; i < vm->n_nics; i++) {
    json_object *n = json_object_new_object();
    json_object_object_add(n, "mac", jstr_or_null(vm->nics[i].mac));
    json_object_object_add(n, "model", jstr_or_null(vm->nics[i].model));
    json_object_object_add(n, "network", jstr_or_null(vm->nics[i].network));
    json_object_array_add(nics, n);
  }
  json_object_object_add(o, "nics", nics);
  return o;
}

int h2k_metadata_write(h2k_job *job, h2k_error *err) {
  json_object *root = json_object_new_object();
  json_object_object_add(root, "schema_version", json_object_new_int(1));
  json_object_object_add(
      root, "tool", json_object_new_string("hyper2kvm " H2K_VERSION_STRING));
  json_object *src = json_object_new_object();
  json_object_object_add(src, "kind", json_object_new_string(job->command));
  json_object_object_add(src, "input", json_object_new_string(job->input));
  json_object *files = json_object_new_array();
  for (size_t i = 0; i < job->n_inputs; i++)
    json_object_array_add(files, json_object_new_string(job->input_files[i]));
  json_object_object_add(src, "files", files);
  if (job->vm->manifest)
    json_object_object_add(src, "manifest",
                           json_object_new_string(job->vm->manifest));
  json_object_object_add(root, "source", src);
  json_object_object_add(root, "vm", vm_json(job->vm));
  json_object *disks = json_object_new_array();
  for (size_t i = 0; i < job->n_disks; i++) {
    const h2k_disk_job *d = &job->disks[i];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "index", json_object_new_int((int)i));
    json_object_object_add(o, "source", json_object_new_string(d->src->path));
    json_object_object_add(o, "source_format",
                           json_object_new_string(d->format));
    json_object_object_add(o, "source_subformat",
                           jstr_or_null(d->image ? d->image->subformat : NULL));
    json_object_object_add(o, "chain_depth",
                           json_object_new_int((int)d->chain_depth));
    json_object_object_add(o, "virtual_size",
                           json_object_new_int64((int64_t)d->virtual_size));
    json_object_object_add(o, "source_allocated",
                           json_object_new_int64((int64_t)d->allocated));
    json_object_object_add(o, "output", json_object_new_string(d->out_name));
    json_object_object_add(
        o, "output_format",
        json_object_new_string(h2k_cfg_str(job->cfg, H2K_OPT_OUT_FORMAT)));
    json_object_object_add(o, "output_bytes",
                           json_object_new_int64((int64_t)d->out_bytes));
    json_object_object_add(o, "sha256",
                           jstr_or_null(d->sha256[0] ? d->sha256 : NULL));
    json_object_array_add(disks, o);
  }
  json_object_object_add(root, "disks", disks);
  json_object_object_add(root, "guest", h2k_guest_json(job));
  json_object_object_add(root, "stages", stages_json(job));
  json_object_object_add(root, "validation",
                         h2k_validate_json(&job->validation));
  json_object_object_add(root, "warnings", warnings_json(job));
  int rc = write_json(job->out_dir, "metadata.json", root, err);
  json_object_put(root);
  return rc;
}

static void print_guest_plan(const h2k_job *job, FILE *out) {
  const h2k_guest_work *w = job->guest;
  if (!w || !w->planned)
    return;
  fprintf(out, "  guest: %s\n",
          w->id.product_name ? w->id.product_name : "unknown OS");
  for (size_t i = 0; i < w->plan.n; i++)
    fprintf(out, "  fix %zu: %s: %s\n", i + 1,
            h2k_fix_op_name(w->plan.steps[i].op), w->plan.steps[i].reason);
  for (size_t i = 0; i < w->plan.n_skipped; i++)
    fprintf(out, "  not needed: %s\n", w->plan.skipped[i]);
}

void h2k_report_print_plan(const h2k_job *job) {
  FILE *out = job->json ? stderr : stdout;
  fprintf(out, "Plan for VM '%s' (%s %s) — dry run, nothing written\n",
          job->vm_name, job->command, job->input);
  for (size_t i = 0; i < job->n_disks; i++) {
    const h2k_disk_job *d = &job->disks[i];
    char v[32], a[32];
    fprintf(out,
            "  disk %zu: %s [%s, %s virtual, %s allocated, %zu layer(s)]\n"
            "          -> %s\n",
            i, d->src->path, d->format,
            h2k_format_bytes(d->virtual_size, v, sizeof v),
            h2k_format_bytes(d->allocated, a, sizeof a), d->chain_depth,
            d->out_final);
  }
  fprintf(out, "  conversion directory: %s\n", job->conv_root);
  print_guest_plan(job, out);
  for (int s = 0; s < H2K_STAGE_COUNT_; s++)
    fprintf(out, "  %-8s %s%s%s\n", h2k_stage_name(s),
            h2k_stage_status_name(job->stages[s].status),
            job->stages[s].message[0] ? ": " : "", job->stages[s].message);
  if (job->json) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "guest", h2k_guest_json(job));
    json_object_object_add(o, "stages", stages_json(job));

    h2k_event_raw("plan", json_object_to_json_string(o));
    json_object_put(o);
  }
}
