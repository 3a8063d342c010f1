/* Run the validation boot: overlays, QEMU, watching the serial log and the
 * packet dump, and stopping QEMU by its PID whatever happens.
 *
 * QEMU is started with fork/exec rather than posix_spawn because the child
 * needs two things posix_spawn cannot give it: PR_SET_PDEATHSIG (QEMU dies
 * with us even if we are SIGKILLed) and closing every inherited descriptor
 * (the job lock must not outlive us in a stray QEMU). It gets its own
 * process group, so a terminal's Ctrl-C reaches only us; we then stop it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/util.h"
#include "hyper2kvm.h"
#include "validate/validate.h"

#define POLL_S 0.25
#define FAIL_GRACE_S 2.0 /* after a failure marker: let the rest arrive */
#define STOP_GRACE_S 5.0 /* SIGTERM, then SIGKILL */
#define SERIAL_READ_MAX ((size_t)16 << 20)
#define PCAP_READ_MAX ((size_t)32 << 20)

bool h2k_kvm_usable(void) {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return false;
  close(fd);
  return true;
}

static bool is_executable(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

char *h2k_find_in_path(const char *name) {
  if (strchr(name, '/'))
    return is_executable(name) ? strdup(name) : NULL;
  const char *path = getenv("PATH");
  if (!path || !*path)
    return NULL;
  for (const char *p = path; *p;) {
    const char *colon = strchr(p, ':');
    size_t n = colon ? (size_t)(colon - p) : strlen(p);
    if (n) { /* an empty entry (the current directory) is not searched */
      char *cand = h2k_strdup_printf("%.*s/%s", (int)n, p, name);
      if (cand && is_executable(cand))
        return cand;
      free(cand);
    }
    p += n + (colon != NULL);
  }
  return NULL;
}

int h2k_disk_has_boot_sector(const char *path, h2k_error *err) {
  h2k_image *img = h2k_image_open(path, NULL, err);
  if (!img)
    return -1;
  uint8_t s[512];
  int rc = -1;
  if (h2k_image_virtual_size(img) < sizeof s)
    rc = 0;
  else if (h2k_image_read(img, 0, s, sizeof s, err) == 0)
    rc = s[510] == 0x55 && s[511] == 0xaa;
  h2k_image_close(img);
  return rc;
}

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* ---- processes ---- */

static void close_inherited(void) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
    return;
#endif
  for (int fd = 3; fd < 65536; fd++)
    close(fd);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child_exec(char *const argv[], int out_fd, pid_t parent) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(127); /* the parent is already gone */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT};
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
    signal(sigs[i], SIG_DFL);
  int in = open("/dev/null", O_RDONLY);
  if (in < 0 || dup2(in, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
    _exit(127);
  close_inherited();
  execv(argv[0], argv);
  static const char msg[] = "hyper2kvm: cannot execute the program\n";
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
  _exit(127);
}

/* Start argv[0] with stdout and stderr appended to `log`. */
static pid_t spawn(char *const argv[], const char *log, h2k_error *err) {
  int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    h2k_err_errno(err, H2K_E_IO, errno, "cannot create '%s'", log);
    return -1;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0)
    child_exec(argv, fd, parent);
  int e = errno;
  close(fd);
  if (pid < 0) {
    h2k_err_errno(err, H2K_E_ENV, e, "cannot start %s", argv[0]);
    return -1;
  }
  setpgid(pid, pid); /* also from here: no race with the child */
  return pid;
}

static int wait_blocking(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  return st;
}

/* SIGTERM, up to STOP_GRACE_S for it to exit, then SIGKILL; reaped. */
static int stop_process(pid_t pid) {
  int st = 0;
  if (waitpid(pid, &st, WNOHANG) == pid)
    return st;
  kill(pid, SIGTERM);
  for (double t = 0; t < STOP_GRACE_S; t += 0.05) {
    if (waitpid(pid, &st, WNOHANG) == pid)
      return st;
    sleep_s(0.05);
  }
  h2k_warn("QEMU (pid %ld) ignored SIGTERM; killing it", (long)pid);
  kill(pid, SIGKILL);
  return wait_blocking(pid);
}

static void describe_status(int st, char *out, size_t cap) {
  if (WIFEXITED(st))
    snprintf(out, cap, "exit status %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    snprintf(out, cap, "signal %d", WTERMSIG(st));
  else
    snprintf(out, cap, "status 0x%x", (unsigned)st);
}

/* ---- files ---- */

/* The last `max` bytes of a file (NUL-terminated), or NULL. */
static char *read_tail(const char *path, size_t max, size_t *len) {
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  struct stat st;
  char *buf = NULL;
  if (fstat(fd, &st) == 0) {
    size_t size = (size_t)st.st_size;
    size_t n = size < max ? size : max;
    off_t off = (off_t)(size - n);
    buf = malloc(n + 1);
    ssize_t r = buf ? pread(fd, buf, n, off) : -1;
    if (r < 0) {
      free(buf);
      buf = NULL;
    } else {
      buf[r] = '\0';
      *len = (size_t)r;
    }
  }
  close(fd);
  return buf;
}

static int copy_file(const char *from, const char *to, h2k_error *err) {
  size_t len;
  char *data = h2k_read_file(from, (size_t)64 << 20, &len, err);
  if (!data)
    return -1;
  int rc = h2k_write_file_atomic(to, data, len, 0600, err);
  free(data);
  return rc;
}

/* The last lines of a tool's log, on one line, for a message. */
static void log_tail_line(const char *log, char *out, size_t cap) {
  size_t len;
  char *t = read_tail(log, 4096, &len);
  char tail[1024];
  h2k_serial_tail(t ? t : "", len, 3, tail, sizeof tail);
  free(t);
  size_t o = 0;
  for (const char *p = tail; *p && o + 1 < cap; p++) {
    if (strncmp(p, "  | ", 4) == 0 && (p == tail || p[-1] == '\n')) {
      p += 3;
      continue;
    }
    out[o++] = *p == '\n' ? ' ' : *p;
  }
  while (o > 0 && out[o - 1] == ' ')
    o--;
  out[o] = '\0';
}

/* qemu-img create -f qcow2 -F FMT -b DISK OVERLAY. */
static int make_overlay(const h2k_validate_opts *o, size_t i,
                        const char *overlay, const char *log,
                        h2k_validate_result *res, h2k_error *err) {
  char *backing = h2k_path_absolute(o->disks[i].path);
  if (!backing) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  char *argv[] = {(char *)o->qemu_img,
                  "create",
                  "-q",
                  "-f",
                  "qcow2",
                  "-F",
                  (char *)o->disks[i].format,
                  "-b",
                  backing,
                  (char *)overlay,
                  NULL};
  pid_t pid = spawn(argv, log, err);
  free(backing);
  if (pid < 0)
    return -1;
  int st = wait_blocking(pid);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
    return 0;
  char why[32], tail[400];
  describe_status(st, why, sizeof why);
  log_tail_line(log, tail, sizeof tail);
  res->status = H2K_VAL_FAILED;
  res->boot = H2K_VBOOT_UNKNOWN; /* not started */
  snprintf(res->reason, sizeof res->reason,
           "qemu-img could not put an overlay on disk %zu '%s' (%s): %s", i,
           o->disks[i].path, why, tail);
  return 1;
}

/* ---- watching the boot ---- */

typedef struct watch {
  const h2k_validate_opts *o;
  const char *serial, *pcap;
  uint8_t mac[6];
  pid_t pid;
  double t0;
  h2k_serial_verdict sv;
  h2k_pcap_stats ps;
  double boot_t, fail_t, dhcp_t; /* seconds after t0, < 0: not yet */
  bool exited, cancelled, timed_out;
  int status;
  long long serial_size, pcap_size;
} watch;

static long long file_size(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

static void poll_serial(watch *w, double now) {
  long long sz = file_size(w->serial);
  if (sz == w->serial_size)
    return;
  w->serial_size = sz;
  size_t len;
  char *t = read_tail(w->serial, SERIAL_READ_MAX, &len);
  if (!t)
    return;
  h2k_serial_verdict v;
  h2k_serial_scan(t, len, &v);
  free(t);
  enum h2k_serial_mark had = w->sv.mark;
  if (had != H2K_MARK_NONE) { /* decided; a failure may get more precise */
    if (h2k_serial_mark_is_failure(had) && h2k_serial_mark_is_failure(v.mark))
      w->sv = v;
    w->sv.any_output |= v.any_output;
    return;
  }
  w->sv = v;
  if (v.mark == H2K_MARK_NONE)
    return;
  if (h2k_serial_mark_is_boot(v.mark)) {
    w->boot_t = now;
    h2k_info("%s after %.0f s: %s", h2k_serial_mark_name(v.mark), now, v.line);
  } else { /* the line may still be arriving: the verdict quotes it */
    w->fail_t = now;
    h2k_info("%s after %.0f s", h2k_serial_mark_name(v.mark), now);
  }
}

static void poll_pcap(watch *w, double now) {
  long long sz = file_size(w->pcap);
  if (sz == w->pcap_size)
    return;
  w->pcap_size = sz;
  size_t len;
  char *t = read_tail(w->pcap, PCAP_READ_MAX, &len);
  if (!t)
    return;
  h2k_pcap_stats ps;
  if (h2k_pcap_scan((const uint8_t *)t, len, w->mac, &ps) == 0)
    w->ps = ps;
  free(t);
  if (w->dhcp_t < 0 && w->ps.dhcp_from_mac > 0) {
    w->dhcp_t = now;
    h2k_info("DHCP request from %s after %.0f s", w->o->mac, now);
  }
}

static bool should_stop(watch *w, double now) {
  const h2k_validate_opts *o = w->o;
  if (w->fail_t >= 0)
    return now - w->fail_t >= FAIL_GRACE_S;
  if (w->boot_t >= 0)
    return w->dhcp_t >= 0 || now - w->boot_t >= o->net_wait_s;
  if (w->dhcp_t >= 0 && !w->sv.any_output && now - w->dhcp_t >= o->net_wait_s)
    return true;
  if (now >= o->timeout_s) {
    w->timed_out = true;
    return true;
  }
  return false;
}

static void watch_loop(watch *w) {
  for (;;) {
    double now = h2k_now_monotonic() - w->t0;
    if (w->o->cancel && atomic_load(w->o->cancel)) {
      w->cancelled = true;
      return;
    }
    poll_serial(w, now);
    poll_pcap(w, now);
    if (waitpid(w->pid, &w->status, WNOHANG) == w->pid) {
      w->exited = true;
      return;
    }
    if (should_stop(w, now))
      return;
    sleep_s(POLL_S);
  }
}

/* ---- the verdict ---- */

static void reason_boot_failed(const watch *w, h2k_validate_result *r,
                               const char *qemu_log) {
  if (w->sv.mark != H2K_MARK_NONE) {
    snprintf(r->reason, sizeof r->reason,
             "the guest did not boot: %s after %.0f s (\"%s\")%s%s%s",
             h2k_serial_mark_name(w->sv.mark), w->fail_t, w->sv.line,
             w->sv.detail[0] ? "; earlier: \"" : "", w->sv.detail,
             w->sv.detail[0] ? "\"" : "");
    return;
  }
  char why[32], tail[300];
  describe_status(w->status, why, sizeof why);
  log_tail_line(qemu_log, tail, sizeof tail);
  bool clean = WIFEXITED(w->status) && WEXITSTATUS(w->status) == 0;
  snprintf(r->reason, sizeof r->reason,
           "QEMU stopped after %.0f s (%s) before the guest booted%s%s",
           r->total_s, why,
           clean ? ": the guest rebooted or powered off" : ": ", tail);
}

static void reason_no_network(const watch *w, h2k_validate_result *r) {
  char extra[128] = "";
  if (w->ps.from_mac)
    snprintf(extra, sizeof extra,
             " (it sent %u other frame(s) from that MAC: a static address?)",
             w->ps.from_mac);
  snprintf(r->reason, sizeof r->reason,
           "the guest booted (%s after %.0f s) but sent no DHCP request from "
           "its NIC (%s, enp1s0) within %u s%s: its network configuration "
           "may still name the old NIC or MAC",
           h2k_serial_mark_name(w->sv.mark), w->boot_t, w->o->mac,
           w->o->net_wait_s, extra);
}

static void reason_unknown(const watch *w, h2k_validate_result *r) {
  const char *serial =
      w->sv.any_output
          ? "no login prompt or multi-user target on the serial console"
          : "no serial output at all (no serial console?): the boot could "
            "not be observed";
  if (r->network)
    snprintf(r->reason, sizeof r->reason,
             "%s, but the guest sent a DHCP request from %s after %.0f s: "
             "it runs and its network comes up (boot not confirmed)",
             serial, w->o->mac, w->dhcp_t);
  else
    snprintf(r->reason, sizeof r->reason,
             "%s within %u s, and no DHCP request from %s either", serial,
             w->o->timeout_s, w->o->mac);
}

static void decide(const watch *w, h2k_validate_result *r,
                   const char *qemu_log) {
  r->network = w->ps.dhcp_from_mac > 0;
  r->frames_from_mac = w->ps.from_mac;
  r->serial_output = w->sv.any_output;
  r->boot_s = w->boot_t >= 0 ? w->boot_t : 0;
  r->network_s = w->dhcp_t >= 0 ? w->dhcp_t : 0;
  snprintf(r->marker, sizeof r->marker, "%s", w->sv.line);
  if (h2k_serial_mark_is_boot(w->sv.mark))
    r->boot = H2K_VBOOT_YES;
  else if (w->sv.mark != H2K_MARK_NONE || w->exited)
    r->boot = H2K_VBOOT_NO; /* a failure marker, or QEMU ended before boot */
  else
    r->boot = H2K_VBOOT_UNKNOWN;
  r->status =
      r->network && r->boot != H2K_VBOOT_NO ? H2K_VAL_PASSED : H2K_VAL_FAILED;
  if (r->boot == H2K_VBOOT_NO)
    reason_boot_failed(w, r, qemu_log);
  else if (r->boot == H2K_VBOOT_YES && !r->network)
    reason_no_network(w, r);
  else if (r->boot == H2K_VBOOT_YES)
    snprintf(r->reason, sizeof r->reason,
             "the guest booted (%s after %.0f s) and sent a DHCP request from "
             "its NIC (%s) after %.0f s",
             h2k_serial_mark_name(w->sv.mark), w->boot_t, w->o->mac, w->dhcp_t);
  else
    reason_unknown(w, r);
}

/* ---- putting it together ---- */

typedef struct paths {
  char *serial, *pcap, *qemu_log, *img_log, *vars;
  char **overlays;
  size_t n;
} paths;

static void paths_free(paths *p) {
  free(p->serial);
  free(p->pcap);
  free(p->qemu_log);
  free(p->img_log);
  free(p->vars);
  for (size_t i = 0; p->overlays && i < p->n; i++)
    free(p->overlays[i]);
  free(p->overlays);
}

static int paths_make(const h2k_validate_opts *o, paths *p, h2k_error *err) {
  memset(p, 0, sizeof *p);
  p->serial = h2k_path_join(o->work_dir, "serial.log");
  p->pcap = h2k_path_join(o->work_dir, "net.pcap");
  p->qemu_log = h2k_path_join(o->work_dir, "qemu.log");
  p->img_log = h2k_path_join(o->work_dir, "qemu-img.log");
  p->vars = h2k_path_join(o->work_dir, "OVMF_VARS.fd");
  p->overlays = calloc(o->n_disks, sizeof *p->overlays);
  bool ok = p->serial && p->pcap && p->qemu_log && p->img_log && p->vars &&
            p->overlays;
  for (size_t i = 0; ok && i < o->n_disks; i++) {
    char name[48];
    snprintf(name, sizeof name, "overlay-disk%zu.qcow2", i);
    p->overlays[i] = h2k_path_join(o->work_dir, name);
    ok = p->overlays[i] != NULL;
    p->n = i + 1;
  }
  if (!ok)
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
  return ok ? 0 : -1;
}

/* Overlays, the UEFI variable store, an empty serial log. 1 = the verdict
 * is already known (qemu-img refused a disk). */
static int prepare(const h2k_validate_opts *o, const paths *p,
                   h2k_validate_result *res, h2k_error *err) {
  if (h2k_mkdir_p(o->work_dir, 0700, err) < 0)
    return -1;
  for (size_t i = 0; i < o->n_disks; i++) {
    unlink(p->overlays[i]);
    int rc = make_overlay(o, i, p->overlays[i], p->img_log, res, err);
    if (rc != 0)
      return rc;
  }
  if (o->uefi && copy_file(o->ovmf_vars, p->vars, err) < 0) {
    h2k_err_wrap(err, "cannot copy the UEFI variable store");
    return -1;
  }
  unlink(p->serial);
  unlink(p->pcap);
  return 0;
}

static char **build_argv(const h2k_validate_opts *o, const paths *p) {
  h2k_qemu_plan q = {
      .qemu = o->qemu,
      .name = o->name,
      .kvm = o->kvm,
      .vcpus = o->vcpus,
      .memory_mb = o->memory_mb,
      .disks = (const char *const *)p->overlays,
      .n_disks = o->n_disks,
      .mac = o->mac,
      .serial_log = p->serial,
      .pcap = p->pcap,
      .ovmf_code = o->uefi ? o->ovmf_code : NULL,
      .ovmf_vars = o->uefi ? p->vars : NULL,
      .secure_boot = o->uefi && o->secure_boot,
  };
  return h2k_qemu_argv(&q);
}

static void log_command(char **argv) {
  h2k_buf b = {0};
  for (char **a = argv; *a; a++)
    h2k_buf_printf(&b, "%s%s", a == argv ? "" : " ", *a);
  h2k_debug("%s", b.data ? b.data : "");
  h2k_buf_free(&b);
}

static int run_qemu(const h2k_validate_opts *o, const paths *p,
                    h2k_validate_result *res, h2k_error *err) {
  char **argv = build_argv(o, p);
  if (!argv) {
    h2k_err_set(err, H2K_E_FAIL, "cannot build the QEMU command line");
    return -1;
  }
  log_command(argv);
  watch w = {.o = o,
             .serial = p->serial,
             .pcap = p->pcap,
             .boot_t = -1,
             .fail_t = -1,
             .dhcp_t = -1,
             .serial_size = -1,
             .pcap_size = -1};
  h2k_mac_parse(o->mac, w.mac);
  w.t0 = h2k_now_monotonic();
  w.pid = spawn(argv, p->qemu_log, err);
  h2k_strv_free(argv);
  if (w.pid < 0)
    return -1;
  res->ran = true;
  h2k_info("booting '%s' (%s, %d vCPU, %llu MiB, %s, MAC %s), qemu pid %ld, "
           "timeout %u s",
           o->name ? o->name : "guest", res->accel, o->vcpus,
           (unsigned long long)o->memory_mb, res->firmware, o->mac, (long)w.pid,
           o->timeout_s);
  watch_loop(&w);
  if (!w.exited)
    w.status = stop_process(w.pid);
  res->total_s = h2k_now_monotonic() - w.t0;
  /* a last look: QEMU flushed its files when it exited */
  double now = res->total_s;
  w.serial_size = w.pcap_size = -2;
  poll_serial(&w, now);
  poll_pcap(&w, now);
  if (w.cancelled) {
    h2k_err_set(err, H2K_E_CANCELLED,
                "VALIDATE: cancelled; QEMU (pid %ld) stopped", (long)w.pid);
    return -1;
  }
  decide(&w, res, p->qemu_log);
  return 0;
}

static void fill_tail(const paths *p, h2k_validate_result *res) {
  size_t len;
  char *t = read_tail(p->serial, 64 * 1024, &len);
  h2k_serial_tail(t ? t : "", len, 20, res->serial_tail,
                  sizeof res->serial_tail);
  free(t);
}

int h2k_validate_boot(const h2k_validate_opts *o, h2k_validate_result *res,
                      h2k_error *err) {
  snprintf(res->accel, sizeof res->accel, "%s", o->kvm ? "kvm" : "tcg");
  snprintf(res->firmware, sizeof res->firmware, "%s",
           o->uefi ? "uefi" : "bios");
  snprintf(res->mac, sizeof res->mac, "%s", o->mac ? o->mac : "");
  if (!o->n_disks || !o->mac || (o->uefi && (!o->ovmf_code || !o->ovmf_vars))) {
    h2k_err_set(err, H2K_E_FAIL, "VALIDATE: incomplete boot settings");
    return -1;
  }
  paths p;
  if (paths_make(o, &p, err) < 0) {
    paths_free(&p);
    return -1;
  }
  int rc = prepare(o, &p, res, err);
  if (rc == 0)
    rc = run_qemu(o, &p, res, err);
  else if (rc > 0)
    rc = 0; /* verdict known without booting */
  fill_tail(&p, res);
  paths_free(&p);
  return rc;
}
