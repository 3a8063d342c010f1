#include "job/job.h"
#include "job/guest_work.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/util.h"
#include "job/convdir.h"

const char *h2k_stage_name(enum h2k_stage_id id) {
  static const char *names[H2K_STAGE_COUNT_] = {
      "fetch", "flatten", "inspect", "plan", "fix", "convert", "validate"};
  return id < H2K_STAGE_COUNT_ ? names[id] : "?";
}

const char *h2k_stage_status_name(enum h2k_stage_status st) {
  static const char *names[] = {"pending",         "ok",      "skipped",
                                "not-implemented", "resumed", "failed"};
  return names[st];
}

enum h2k_opt_id h2k_input_option(const char *command) {
  static const struct {
    const char *cmd;
    enum h2k_opt_id opt;
  } map[] = {{"local", H2K_OPT_VMDK}, {"ova", H2K_OPT_OVA},
             {"ovf", H2K_OPT_OVF},    {"vmx", H2K_OPT_VMX},
             {"vhd", H2K_OPT_VHD},    {"raw", H2K_OPT_RAW},
             {"ami", H2K_OPT_AMI},    {"inspect", H2K_OPT_VMDK}};
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (strcmp(map[i].cmd, command) == 0)
      return map[i].opt;
  return H2K_OPT_COUNT_;
}

const char *h2k_command_for_file(const char *path) {
  static const struct {
    const char *ext, *cmd;
  } map[] = {{".vmdk", "local"}, {".ova", "ova"}, {".ovf", "ovf"},
             {".vmx", "vmx"},    {".vhd", "vhd"}, {".vhdx", "vhd"},
             {".raw", "raw"},    {".img", "raw"}, {".ami", "ami"},
             {".qcow2", "local"}};
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (h2k_str_ends_with_ci(path, map[i].ext))
      return map[i].cmd;
  return NULL;
}

/* VM names become directory names: keep them tame. */
char *h2k_safe_name(const char *name) {
  char *s = strdup(name);
  if (!s)
    return NULL;
  for (char *p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
      *p = '_';
  if (s[0] == '.')
    s[0] = '_';
  return s;
}

static void compute_keys(h2k_job *job) {
  h2k_buf b = {0};
  const char *vm = h2k_cfg_str(job->cfg, H2K_OPT_VM_NAME);
  h2k_buf_printf(&b, "%s", job->command);
  h2k_buf_append(&b, "", 1);
  h2k_buf_printf(&b, "%s", job->input);
  h2k_buf_append(&b, "", 1);
  h2k_buf_printf(&b, "%s", vm ? vm : "");
  h2k_sha256_hex(b.data, b.len, job->job_key);
  h2k_buf_free(&b);
  for (size_t i = 0; i < H2K_OPT_COUNT_; i++) {
    const h2k_option_def *d = &h2k_options[i];
    if (h2k_option_shapes_output(d) && job->cfg->v[i].text)
      h2k_buf_printf(&b, "%s=%s\n", d->key, job->cfg->v[i].text);
  }
  h2k_sha256_hex(b.data ? b.data : "", b.len, job->options_hash);
  h2k_buf_free(&b);
}

h2k_job *h2k_job_new(h2k_config *cfg, const char *command, h2k_error *err) {
  enum h2k_opt_id in_opt = h2k_input_option(command);
  if (in_opt == H2K_OPT_COUNT_) {
    h2k_err_set(err, H2K_E_USAGE, "'%s' is not a conversion command", command);
    return NULL;
  }
  const char *input = h2k_cfg_str(cfg, in_opt);
  if (!input) {
    h2k_err_set(err, H2K_E_USAGE, "'%s' needs an input", command);
    h2k_err_hint(err,
                 "give it as 'hyper2kvm %s FILE' or as '%s: FILE' in a "
                 "YAML file",
                 command, h2k_options[in_opt].key);
    return NULL;
  }
  char *expanded = h2k_expand_home(input);
  if (!h2k_path_exists(expanded)) {
    h2k_err_set(err, H2K_E_INPUT, "input '%s' does not exist", expanded);
    h2k_err_hint(err, "check the path given to '%s'", command);
    free(expanded);
    return NULL;
  }
  h2k_job *job = calloc(1, sizeof *job);
  if (!job) {
    free(expanded);
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return NULL;
  }
  job->cfg = cfg;
  job->command = command;
  job->input = h2k_path_absolute(expanded);
  free(expanded);
  const char *vm = h2k_cfg_str(cfg, H2K_OPT_VM_NAME);
  char *stem = h2k_path_stem(job->input);
  if (stem && h2k_str_ends_with(stem, ".tar")) /* web.tar.gz → web */
    stem[strlen(stem) - 4] = '\0';
  job->vm_name = h2k_safe_name(vm ? vm : stem);
  free(stem);
  job->lock_fd = -1;
  job->dry_run = h2k_cfg_bool(cfg, H2K_OPT_DRY_RUN);
  job->json = h2k_cfg_bool(cfg, H2K_OPT_JSON);
  job->resume = h2k_cfg_bool(cfg, H2K_OPT_RESUME) ||
                h2k_cfg_bool(cfg, H2K_OPT_ENABLE_RECOVERY);
  long long w = h2k_cfg_int(cfg, H2K_OPT_WORKERS);
  job->workers = w > 0 ? (int)w : (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (job->workers < 1)
    job->workers = 1;
  h2k_now_iso8601(job->created, sizeof job->created);
  atomic_init(&job->cancel, false);
  compute_keys(job);
  return job;
}

void h2k_job_free(h2k_job *job) {
  if (!job)
    return;
  h2k_guest_work_free(job); /* its NBD exports read the disks' images */
  for (size_t i = 0; i < job->n_disks; i++) {
    h2k_disk_job *d = &job->disks[i];
    if (d->image)
      h2k_image_close(d->image);
    free(d->format);
    free(d->out_name);
    free(d->out_partial);
    free(d->out_final);
    free(d->overlay);
  }
  free(job->disks);
  h2k_vm_free(job->vm);
  for (size_t i = 0; i < job->n_inputs; i++)
    free(job->input_files[i]);
  free(job->input_files);
  free(job->input_fps);
  for (size_t i = 0; i < job->n_artifacts; i++) {
    free(job->artifacts[i].stage);
    free(job->artifacts[i].name);
    free(job->artifacts[i].path);
  }
  free(job->artifacts);
  for (size_t i = 0; i < job->n_warnings; i++)
    free(job->warnings[i]);
  free(job->warnings);
  h2k_jobdir_close(job->lock_fd);
  free(job->input);
  free(job->vm_name);
  free(job->conv_root);
  free(job->job_dir);
  free(job->out_dir);
  free(job);
}

void h2k_job_warn(h2k_job *job, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (h2k_strv_vprintf(&job->warnings, &job->n_warnings, fmt, ap) == 0)
    h2k_warn("%s", job->warnings[job->n_warnings - 1]);
  va_end(ap);
}

static pthread_mutex_t g_job_lock = PTHREAD_MUTEX_INITIALIZER;

h2k_artifact *h2k_job_push_artifact(h2k_job *job, const char *stage,
                                    const char *name, const char *path,
                                    const h2k_fingerprint *fp) {
  pthread_mutex_lock(&g_job_lock);
  h2k_artifact *a = realloc(job->artifacts, (job->n_artifacts + 1) * sizeof *a);
  if (a) {
    job->artifacts = a;
    a = &job->artifacts[job->n_artifacts++];
    memset(a, 0, sizeof *a);
    a->stage = strdup(stage);
    a->name = strdup(name);
    a->path = strdup(path);
    a->fp = *fp;
  }
  pthread_mutex_unlock(&g_job_lock);
  return a;
}

int h2k_job_add_artifact(h2k_job *job, const char *stage, const char *name,
                         const char *path, h2k_error *err) {
  h2k_fingerprint fp;
  if (h2k_fingerprint_file(path, &fp, err) < 0)
    return -1;
  if (!h2k_job_push_artifact(job, stage, name, path, &fp)) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  return 0;
}

const h2k_artifact *h2k_job_find_artifact(const h2k_job *job, const char *stage,
                                          const char *name) {
  for (size_t i = job->n_artifacts; i-- > 0;)
    if (!strcmp(job->artifacts[i].stage, stage) &&
        !strcmp(job->artifacts[i].name, name))
      return &job->artifacts[i];
  return NULL;
}

bool h2k_is_job_file(const h2k_job *job, const char *path) {
  size_t n = job->job_dir ? strlen(job->job_dir) : 0;
  return n && !strncmp(path, job->job_dir, n) && path[n] == '/';
}

int h2k_job_add_input(h2k_job *job, const char *path, h2k_error *err) {
  for (size_t i = 0; i < job->n_inputs; i++)
    if (!strcmp(job->input_files[i], path))
      return 0;
  h2k_fingerprint fp;
  if (h2k_fingerprint_file(path, &fp, err) < 0)
    return -1;
  char **f = realloc(job->input_files, (job->n_inputs + 1) * sizeof *f);
  if (!f)
    return -1;
  job->input_files = f;
  h2k_fingerprint *fps =
      realloc(job->input_fps, (job->n_inputs + 1) * sizeof *fps);
  if (!fps)
    return -1;
  job->input_fps = fps;
  job->input_files[job->n_inputs] = strdup(path);
  job->input_fps[job->n_inputs] = fp;
  job->n_inputs++;
  return 0;
}

struct disk_task {
  h2k_job *job;
  int (*fn)(h2k_job *, h2k_disk_job *, h2k_error *);
  size_t next;
  pthread_mutex_t lock;
  int failed;
  h2k_error err;
};

static void *disk_worker(void *arg) {
  struct disk_task *t = arg;
  for (;;) {
    pthread_mutex_lock(&t->lock);
    size_t i = t->next++;
    bool stop = t->failed || i >= t->job->n_disks;
    pthread_mutex_unlock(&t->lock);
    if (stop)
      break;
    h2k_error e = {0};
    if (t->fn(t->job, &t->job->disks[i], &e) < 0) {
      pthread_mutex_lock(&t->lock);
      if (!t->failed) {
        t->failed = 1;
        t->err = e;
      }
      pthread_mutex_unlock(&t->lock);
      atomic_store(&t->job->cancel, true);
    }
  }
  return NULL;
}

int h2k_job_for_each_disk(h2k_job *job,
                          int (*fn)(h2k_job *, h2k_disk_job *, h2k_error *),
                          h2k_error *err) {
  bool parallel = h2k_cfg_bool(job->cfg, H2K_OPT_PARALLEL_PROCESSING);
  size_t nthreads = parallel ? (size_t)job->workers : 1;
  if (nthreads > job->n_disks)
    nthreads = job->n_disks;
  if (nthreads <= 1) {
    for (size_t i = 0; i < job->n_disks; i++)
      if (fn(job, &job->disks[i], err) < 0)
        return -1;
    return 0;
  }
  struct disk_task t = {.job = job, .fn = fn};
  pthread_mutex_init(&t.lock, NULL);
  pthread_t *th = calloc(nthreads, sizeof *th);
  size_t started = 0;
  for (; th && started < nthreads; started++)
    if (pthread_create(&th[started], NULL, disk_worker, &t) != 0)
      break;
  if (started == 0)
    disk_worker(&t);
  for (size_t i = 0; i < started; i++)
    pthread_join(th[i], NULL);
  free(th);
  pthread_mutex_destroy(&t.lock);
  if (t.failed) {
    *err = t.err;
    return -1;
  }
  return 0;
}

/* Estimated bytes each place needs: outputs hold at most the allocated data
 * of the chains; the conversion directory holds overlays and metadata. */
int h2k_job_check_space(h2k_job *job, h2k_error *err) {
  uint64_t out_need = 0, conv_need = 0;
  for (size_t i = 0; i < job->n_disks; i++) {
    uint64_t data = job->disks[i].allocated;
    if (data > job->disks[i].virtual_size)
      data = job->disks[i].virtual_size;
    out_need += data + (data >> 6) + (4u << 20); /* + metadata slack */
    conv_need += 16u << 20; /* checkpoint, overlay headers, logs */
  }
  const char *places[2] = {job->conv_root, job->out_dir};
  const char *what[3] = {"the conversion directory", "the output directory",
                         "the output and conversion directories"};
  uint64_t need[2] = {conv_need, out_need};
  uint64_t free_b[2], fsid[2];
  for (int i = 0; i < 2; i++)
    if (h2k_free_space(places[i], &free_b[i], &fsid[i], err) < 0)
      return -1;
  bool shared = fsid[0] == fsid[1];
  if (shared) {
    need[1] += need[0];
    need[0] = 0;
  }
  for (int i = 0; i < 2; i++) {
    if (need[i] <= free_b[i])
      continue;
    char n[32], f[32];
    h2k_format_bytes(need[i], n, sizeof n);
    h2k_format_bytes(free_b[i], f, sizeof f);
    h2k_err_set(err, H2K_E_SPACE,
                "not enough free space for VM '%s': %s '%s' needs about %s, "
                "only %s is free there",
                job->vm_name, what[shared && i == 1 ? 2 : i], places[i], n, f);
    if (i == 0 || shared)
      h2k_err_hint(err, "free some space, or point the conversion directory "
                        "elsewhere with --conversion-dir DIR (YAML "
                        "conversion_dir:, env HYPER2KVM_CONVERSION_DIR)");
    if (i == 1)
      h2k_err_hint(err,
                   "%schoose another output directory with --output-dir "
                   "DIR (YAML output_dir:)",
                   shared ? "or " : "free some space, or ");
    return -1;
  }
  char n[32];
  h2k_debug("free-space check passed (need about %s)",
            h2k_format_bytes(out_need + conv_need, n, sizeof n));
  return 0;
}

void h2k_convert_opts_from_config(const h2k_config *cfg, int threads,
                                  h2k_convert_opts *o) {
  memset(o, 0, sizeof *o);
  o->out_format = strcmp(h2k_cfg_str(cfg, H2K_OPT_OUT_FORMAT), "raw") == 0
                      ? H2K_OUT_RAW
                      : H2K_OUT_QCOW2;
  if (h2k_cfg_bool(cfg, H2K_OPT_COMPRESS))
    o->compress = strcmp(h2k_cfg_str(cfg, H2K_OPT_COMPRESS_TYPE), "zstd") == 0
                      ? H2K_COMPRESS_ZSTD
                      : H2K_COMPRESS_ZLIB;
  o->compress_level = (int)h2k_cfg_int(cfg, H2K_OPT_COMPRESS_LEVEL);
  o->threads = threads;
  o->want_sha256 = h2k_cfg_bool(cfg, H2K_OPT_CHECKSUM);
}
