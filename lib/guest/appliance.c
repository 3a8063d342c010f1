#include "guest/appliance.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

const char *h2k_app_error(h2k_appliance *a) {
  const char *e = a && a->g ? guestfs_last_error(a->g) : NULL;
  return e ? e : "unknown libguestfs error";
}

/* Appliance console and libguestfs trace lines go to our trace log. */
static void on_event(guestfs_h *g, void *opaque, uint64_t event,
                     int event_handle, int flags, const char *buf,
                     size_t buf_len, const uint64_t *array, size_t array_len) {
  (void)g, (void)opaque, (void)event, (void)event_handle, (void)flags;
  (void)array, (void)array_len;
  while (buf_len && (buf[buf_len - 1] == '\n' || buf[buf_len - 1] == '\r'))
    buf_len--;
  if (buf_len)
    h2k_trace("appliance: %.*s", (int)buf_len, buf);
}

static int add_drives(h2k_appliance *a, const char *const *drives, size_t n,
                      h2k_error *err) {
  for (size_t i = 0; i < n; i++) {
    /* cachemode unsafe: nothing is flushed until shutdown, which syncs;
     * discard lets fstrim mark unused clusters in the overlay. */
    struct guestfs_add_drive_opts_argv o = {
        .bitmask = GUESTFS_ADD_DRIVE_OPTS_FORMAT_BITMASK |
                   GUESTFS_ADD_DRIVE_OPTS_CACHEMODE_BITMASK |
                   GUESTFS_ADD_DRIVE_OPTS_DISCARD_BITMASK,
        .format = "qcow2",
        .cachemode = "unsafe",
        .discard = "besteffort",
    };
    if (guestfs_add_drive_opts_argv(a->g, drives[i], &o) < 0) {
      h2k_err_set(err, H2K_E_STAGE, "cannot add '%s' to the appliance: %s",
                  drives[i], h2k_app_error(a));
      return -1;
    }
  }
  return 0;
}

h2k_appliance *h2k_appliance_launch(const char *const *drives, size_t n,
                                    h2k_error *err) {
  h2k_appliance *a = calloc(1, sizeof *a);
  if (!a || !(a->g = guestfs_create())) {
    free(a);
    h2k_err_set(err, H2K_E_ENV, "cannot create a libguestfs handle");
    return NULL;
  }
  guestfs_set_error_handler(a->g, NULL, NULL);
  if (!getenv("LIBGUESTFS_BACKEND"))
    guestfs_set_backend(a->g, "direct");
  if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
    guestfs_set_smp(a->g, 2);
  if (h2k_log_get_level() >= H2K_LOG_TRACE)
    guestfs_set_event_callback(a->g, on_event, GUESTFS_EVENT_APPLIANCE, 0,
                               NULL);
  if (add_drives(a, drives, n, err) < 0)
    goto fail;
  a->n_disks = n;
  double t0 = h2k_now_monotonic();
  h2k_info("launching the libguestfs appliance (about 20 s without KVM)");
  if (guestfs_launch(a->g) < 0) {
    h2k_err_set(err, H2K_E_ENV, "the libguestfs appliance did not start: %s",
                h2k_app_error(a));
    h2k_err_hint(err, "check it with 'libguestfs-test-tool'; it needs a "
                      "kernel in /boot (apt-get install linux-image-amd64)");
    goto fail;
  }
  a->launch_s = h2k_now_monotonic() - t0;
  h2k_debug("appliance up in %.1f s", a->launch_s);
  return a;
fail:
  guestfs_close(a->g);
  free(a);
  return NULL;
}

static int by_mountpoint_length(const void *x, const void *y) {
  const char *const *a = x, *const *b = y;
  size_t la = strlen(a[0]), lb = strlen(b[0]);
  return la < lb ? -1 : la > lb ? 1 : strcmp(a[0], b[0]);
}

void h2k_app_mount_all(h2k_appliance *a) {
  size_t n = 0;
  while (a->mountpoints[n])
    n += 2;
  /* pairs (mountpoint, device): parents before children */
  qsort(a->mountpoints, n / 2, 2 * sizeof(char *), by_mountpoint_length);
  for (size_t i = 0; i < n; i += 2) {
    const char *mp = a->mountpoints[i], *dev = a->mountpoints[i + 1];
    if (guestfs_mount(a->g, dev, mp) < 0)
      h2k_warn("cannot mount %s on %s in the appliance: %s", dev, mp,
               h2k_app_error(a));
  }
}

/* The libguestfs way: guestfs_inspect_os finds every OS (Windows too). */
static int mount_inspected_os(h2k_appliance *a, h2k_error *err) {
  char **roots = guestfs_inspect_os(a->g);
  if (!roots) {
    h2k_err_set(err, H2K_E_STAGE, "inspection of the guest failed: %s",
                h2k_app_error(a));
    return -1;
  }
  if (!roots[0]) {
    h2k_app_strv_free(roots);
    h2k_err_set(err, H2K_E_STAGE,
                "no operating system found on the disk(s): no root "
                "filesystem with a recognisable OS");
    h2k_err_hint(err, "check that all the VM's disks are given, and that "
                      "the disk is not encrypted as a whole");
    return -1;
  }
  if (roots[1])
    h2k_warn("%s holds several operating systems; converting the one on %s",
             "the disk", roots[0]);
  a->root = strdup(roots[0]);
  h2k_app_strv_free(roots);
  a->mountpoints = guestfs_inspect_get_mountpoints(a->g, a->root);
  if (!a->root || !a->mountpoints) {
    h2k_err_set(err, H2K_E_STAGE, "cannot list the guest's filesystems: %s",
                h2k_app_error(a));
    return -1;
  }
  h2k_app_mount_all(a);
  return 0;
}

int h2k_appliance_mount_os(h2k_appliance *a, bool native, h2k_error *err) {
  if (h2k_app_scan_storage(a, err) < 0)
    return -1;
  if (native) {
    int found = h2k_app_mount_linux_root(a, err);
    if (found != 0)
      return found < 0 ? -1 : 0;
    h2k_debug("no Linux root found directly; asking libguestfs' inspection");
  }
  return mount_inspected_os(a, err);
}

int h2k_appliance_close(h2k_appliance *a, h2k_error *err) {
  if (!a)
    return 0;
  int rc = 0;
  if (guestfs_umount_all(a->g) < 0 || guestfs_shutdown(a->g) < 0) {
    h2k_err_set(err, H2K_E_STAGE,
                "the appliance did not shut down cleanly, so the fixes may "
                "be incomplete: %s",
                h2k_app_error(a));
    rc = -1;
  }
  guestfs_close(a->g);
  free(a->root);
  h2k_app_strv_free(a->mountpoints);
  h2k_app_forget(a);
  h2k_app_storage_free(&a->storage);
  free(a->scratch_dir);
  free(a);
  return rc;
}

bool h2k_app_is_file(h2k_appliance *a, const char *path) {
  return guestfs_is_file_opts(a->g, path, GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS,
                              1, -1) > 0;
}

bool h2k_app_is_dir(h2k_appliance *a, const char *path) {
  return guestfs_is_dir_opts(a->g, path, GUESTFS_IS_DIR_OPTS_FOLLOWSYMLINKS, 1,
                             -1) > 0;
}

/* guestfs_pread is one daemon round trip; guestfs_read_file goes through
 * a download to a temporary file (about ten times slower under TCG). */
#define READ_CHUNK (2 * 1024 * 1024)

char *h2k_app_read(h2k_appliance *a, const char *path, h2k_error *err) {
  h2k_buf b = {0};
  h2k_buf_append(&b, "", 0);
  for (int64_t off = 0;;) {
    size_t got = 0;
    char *part = guestfs_pread(a->g, path, READ_CHUNK, off, &got);
    if (!part) {
      h2k_buf_free(&b);
      h2k_err_set(err, H2K_E_STAGE, "cannot read %s in the guest: %s", path,
                  h2k_app_error(a));
      return NULL;
    }
    h2k_buf_append(&b, part, got);
    free(part);
    off += (int64_t)got;
    if (got < READ_CHUNK)
      break;
  }
  if (!b.data) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory reading %s", path);
    return NULL;
  }
  return h2k_buf_steal(&b);
}

long h2k_app_read_head(h2k_appliance *a, const char *path, void *buf,
                       size_t max) {
  size_t got = 0;
  char *part = guestfs_pread(a->g, path, (int)max, 0, &got);
  if (!part)
    return -1;
  memcpy(buf, part, got < max ? got : max);
  free(part);
  return (long)(got < max ? got : max);
}

int h2k_app_download(h2k_appliance *a, const char *path, const char *host_path,
                     h2k_error *err) {
  if (guestfs_download(a->g, path, host_path) < 0) {
    h2k_err_set(err, H2K_E_STAGE, "cannot copy %s out of the guest: %s", path,
                h2k_app_error(a));
    return -1;
  }
  return 0;
}

void h2k_app_forget(h2k_appliance *a) {
  for (size_t i = 0; i < a->n_cache; i++) {
    free(a->cache[i].path);
    free(a->cache[i].text);
  }
  free(a->cache);
  a->cache = NULL;
  a->n_cache = 0;
}

static struct h2k_app_cached *cached(h2k_appliance *a, const char *path) {
  for (size_t i = 0; i < a->n_cache; i++)
    if (!strcmp(a->cache[i].path, path))
      return &a->cache[i];
  return NULL;
}

/* Remember `text` (may be NULL: absent) as the content of `path`. */
static void remember(h2k_appliance *a, const char *path, const char *text) {
  struct h2k_app_cached *c = cached(a, path);
  if (!c) {
    c = realloc(a->cache, (a->n_cache + 1) * sizeof *c);
    if (!c)
      return;
    a->cache = c;
    c = &a->cache[a->n_cache];
    c->path = strdup(path);
    c->text = NULL;
    if (!c->path)
      return;
    a->n_cache++;
  }
  free(c->text);
  c->text = text ? strdup(text) : NULL;
  if (text && !c->text) { /* out of memory: drop the entry */
    free(c->path);
    *c = a->cache[--a->n_cache];
  }
}

char *h2k_app_read_opt(h2k_appliance *a, const char *path) {
  struct h2k_app_cached *c = cached(a, path);
  if (c)
    return c->text ? strdup(c->text) : NULL;
  if (!h2k_app_is_file(a, path)) {
    remember(a, path, NULL);
    return NULL;
  }
  h2k_error e = {0};
  char *t = h2k_app_read(a, path, &e);
  if (t)
    remember(a, path, t);
  else
    h2k_warn("%s", h2k_error_text(&e));
  h2k_err_clear(&e);
  return t;
}

int h2k_app_write(h2k_appliance *a, const char *path, const char *text,
                  h2k_error *err) {
  h2k_app_forget(a); /* a symlink may make two cached paths one file */
  if (guestfs_write(a->g, path, text, strlen(text)) < 0) {
    h2k_err_set(err, H2K_E_STAGE, "cannot write %s in the guest: %s", path,
                h2k_app_error(a));
    return -1;
  }
  return 0;
}

static int cmp_str(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}

char **h2k_app_ls(h2k_appliance *a, const char *dir) {
  if (!h2k_app_is_dir(a, dir))
    return NULL;
  char **v = guestfs_ls(a->g, dir);
  if (v) { /* sorted, so every run edits files in the same order */
    size_t n = 0;
    while (v[n])
      n++;
    qsort(v, n, sizeof *v, cmp_str);
  }
  return v;
}

void h2k_app_strv_free(char **v) {
  if (!v)
    return;
  for (char **p = v; *p; p++)
    free(*p);
  free(v);
}

char *h2k_app_sh_readonly(h2k_appliance *a, const char *cmd, h2k_error *err) {
  char *full = h2k_strdup_printf(
      "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:"
      "/bin LC_ALL=C; %s",
      cmd);
  char *out = full ? guestfs_sh(a->g, full) : NULL;
  free(full);
  if (!out)
    h2k_err_set(err, H2K_E_STAGE, "'%s' failed in the guest: %s", cmd,
                h2k_app_error(a));
  return out;
}

char *h2k_app_sh(h2k_appliance *a, const char *cmd, h2k_error *err) {
  h2k_app_forget(a);
  return h2k_app_sh_readonly(a, cmd, err);
}

#define PAR_DIR "/tmp/.h2k-par"
#define PAR_MARK "@@hyper2kvm-job "

/* Split the shell's output: for each job a line PAR_MARK "i status start
 * end", then its output. */
static void parse_parallel(char *all, h2k_app_job *jobs, size_t n) {
  char *p = all;
  while ((p = strstr(p, PAR_MARK))) {
    p += strlen(PAR_MARK);
    size_t i = 0;
    int status = -1;
    unsigned long long start = 0, end = 0;
    int got = sscanf(p, "%zu %d %llu %llu", &i, &status, &start, &end);
    char *body = strchr(p, '\n');
    if (got < 2 || i >= n || !body)
      continue;
    body++;
    char *next = strstr(body, PAR_MARK);
    jobs[i].output = next ? strndup(body, (size_t)(next - body)) : strdup(body);
    jobs[i].status = status;
    jobs[i].seconds = got == 4 && end > start ? (double)(end - start) / 1e9 : 0;
    p = body;
  }
}

int h2k_app_sh_parallel(h2k_appliance *a, h2k_app_job *jobs, size_t n,
                        h2k_error *err) {
  h2k_buf sh = {0};
  h2k_buf_printf(&sh, "rm -rf " PAR_DIR " && mkdir -p " PAR_DIR " && cd /; ");
  for (int after = 0; after < 2; after++) {
    if (after)
      h2k_buf_printf(&sh, "wait; ");
    for (size_t i = 0; i < n; i++) {
      if (jobs[i].after != (bool)after)
        continue;
      jobs[i].output = NULL;
      jobs[i].status = -1;
      jobs[i].seconds = 0;
      h2k_buf_printf(
          &sh,
          "( s=$(date +%%s%%N 2>/dev/null); ( %s ) </dev/null >" PAR_DIR
          "/%zu.out 2>&1; rc=$?; echo \"$rc $s $(date +%%s%%N "
          "2>/dev/null)\" >" PAR_DIR "/%zu.rc )%s ",
          jobs[i].cmd, i, i, after ? ";" : " &");
    }
  }
  h2k_buf_printf(&sh, "for i in");
  for (size_t i = 0; i < n; i++)
    h2k_buf_printf(&sh, " %zu", i);
  h2k_buf_printf(&sh, "; do printf '" PAR_MARK "%%s ' $i; cat " PAR_DIR
                      "/$i.rc " PAR_DIR "/$i.out; done; rm -rf " PAR_DIR);
  char *all = sh.data ? h2k_app_sh(a, sh.data, err) : NULL;
  h2k_buf_free(&sh);
  if (!all) {
    h2k_err_wrap(err, "cannot run %zu commands at once in the guest", n);
    return -1;
  }
  parse_parallel(all, jobs, n);
  free(all);
  return 0;
}

void h2k_app_jobs_free(h2k_app_job *jobs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(jobs[i].output);
    jobs[i].output = NULL;
  }
}
