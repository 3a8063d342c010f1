/* boot.c with a fake QEMU and qemu-img (shell scripts written here): the
 * watch loop's verdicts, early stops, timeouts, cancellation, and that the
 * process is always gone afterwards, even when it ignores SIGTERM. No real
 * guest boots here (tests/validate/test_guest_boot.sh does that). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/fsutil.h"
#include "core/util.h"
#include "pcap_build.h"
#include "validate/validate.h"

#define MAC "52:54:00:12:34:56"
static const uint8_t GUEST[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

static const char FAKE_QEMU[] =
    "#!/bin/sh\n"
    "serial= pcap=\n"
    "for a in \"$@\"; do\n"
    "  case \"$a\" in\n"
    "    file,id=s0,path=*) serial=\"${a#file,id=s0,path=}\" ;;\n"
    "    filter-dump,*) pcap=\"${a##*,file=}\" ;;\n"
    "  esac\n"
    "done\n"
    "printf '%s\\n' \"$@\" >\"$FAKE_DIR/args\"\n"
    "echo $$ >\"$FAKE_DIR/pid\"\n"
    "case \"$FAKE_MODE\" in\n"
    "  login-dhcp) printf 'Debian GNU/Linux 12\\r\\n\\r\\nhost login: ' "
    ">\"$serial\"; cp \"$FAKE_DIR/dhcp.pcap\" \"$pcap\" ;;\n"
    "  login) printf 'host login: ' >\"$serial\" ;;\n"
    "  alert) printf 'Begin: Waiting\\r\\nALERT!  /dev/sda1 does not exist.  "
    "Dropping to a shell!\\r\\n(initramfs) ' >\"$serial\" ;;\n"
    "  silent-dhcp) cp \"$FAKE_DIR/dhcp.pcap\" \"$pcap\" ;;\n"
    "  crash) echo 'qemu-system-x86_64: could not load PC BIOS' >&2; "
    "exit 1 ;;\n"
    "  reboot) printf 'Linux version 6.1\\r\\n' >\"$serial\"; exit 0 ;;\n"
    "  stubborn) trap '' TERM ;;\n"
    "esac\n"
    "exec sleep 600\n";

static const char FAKE_QEMU_IMG[] =
    "#!/bin/sh\n"
    "printf '%s\\n' \"$@\" >\"$FAKE_DIR/img-args\"\n"
    "if [ \"$FAKE_MODE\" = img-fail ]; then\n"
    "  echo \"qemu-img: Could not open '$8': Image is corrupt\" >&2; exit 1\n"
    "fi\n"
    "for a in \"$@\"; do last=\"$a\"; done\n"
    ": >\"$last\"\n";

typedef struct fixture {
  char dir[64];
  char *qemu, *qemu_img, *work, *disk;
  h2k_validate_disk disks[1];
  h2k_validate_opts o;
  h2k_validate_result res;
  atomic_bool cancel;
} fixture;

static char *write_script(const char *dir, const char *name, const char *text) {
  char *p = h2k_path_join(dir, name);
  h2k_error err = {0};
  assert_int_equal(h2k_write_file_atomic(p, text, strlen(text), 0755, &err), 0);
  return p;
}

static void write_dhcp_pcap(const char *dir) {
  cap *c = malloc(sizeof *c);
  cap_init(c, false, 0xa1b2c3d4u, 1);
  add_dhcp(c, GUEST, 0, 68, 67, 1);
  char *p = h2k_path_join(dir, "dhcp.pcap");
  h2k_error err = {0};
  assert_int_equal(h2k_write_file_atomic(p, c->b, c->n, 0644, &err), 0);
  free(p);
  free(c);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/h2k-valboot-XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  f->qemu = write_script(f->dir, "qemu-system-x86_64", FAKE_QEMU);
  f->qemu_img = write_script(f->dir, "qemu-img", FAKE_QEMU_IMG);
  f->work = h2k_path_join(f->dir, "work");
  f->disk = write_script(f->dir, "disk.qcow2", "not really a disk");
  write_dhcp_pcap(f->dir);
  setenv("FAKE_DIR", f->dir, 1);
  f->disks[0].path = f->disk;
  f->disks[0].format = "qcow2";
  h2k_validate_opts o = {
      .qemu = f->qemu,
      .qemu_img = f->qemu_img,
      .work_dir = f->work,
      .name = "test",
      .disks = f->disks,
      .n_disks = 1,
      .mac = MAC,
      .vcpus = 1,
      .memory_mb = 512,
      .timeout_s = 2,
      .net_wait_s = 1,
      .cancel = &f->cancel,
  };
  f->o = o;
  atomic_init(&f->cancel, false);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  h2k_remove_tree(f->dir);
  free(f->qemu);
  free(f->qemu_img);
  free(f->work);
  free(f->disk);
  free(f);
  return 0;
}

/* The fake's PID, and that no such process is left. */
static void assert_gone(const fixture *f) {
  char *p = h2k_path_join(f->dir, "pid");
  h2k_error err = {0};
  char *t = h2k_read_file(p, 64, NULL, &err);
  free(p);
  assert_non_null(t);
  pid_t pid = (pid_t)atol(t);
  free(t);
  assert_true(pid > 1);
  assert_int_equal(kill(pid, 0), -1);
  assert_int_equal(errno, ESRCH);
}

static int run(fixture *f, const char *mode, double *secs) {
  setenv("FAKE_MODE", mode, 1);
  memset(&f->res, 0, sizeof f->res);
  h2k_error err = {0};
  double t0 = h2k_now_monotonic();
  int rc = h2k_validate_boot(&f->o, &f->res, &err);
  *secs = h2k_now_monotonic() - t0;
  if (rc < 0)
    printf("# %s: %s\n", mode, h2k_error_text(&err));
  return rc < 0 ? -err.code : rc;
}

static void test_login_and_dhcp(void **state) {
  fixture *f = *state;
  double s;
  assert_int_equal(run(f, "login-dhcp", &s), 0);
  assert_int_equal(f->res.status, H2K_VAL_PASSED);
  assert_int_equal(f->res.boot, H2K_VBOOT_YES);
  assert_true(f->res.network);
  assert_true(f->res.ran);
  assert_string_equal(f->res.accel, "tcg");
  assert_string_equal(f->res.firmware, "bios");
  assert_string_equal(f->res.mac, MAC);
  assert_string_equal(f->res.marker, "host login:");
  assert_non_null(strstr(f->res.reason, "sent a DHCP request"));
  assert_true(s < 2); /* stopped at once, not after the timeout */
  assert_gone(f);
  /* the overlay sits on the disk, and QEMU got what we think */
  char *a = h2k_path_join(f->dir, "img-args");
  char *t = h2k_read_file(a, 65536, NULL, &(h2k_error){0});
  assert_non_null(strstr(t, "create\n-q\n-f\nqcow2\n-F\nqcow2\n-b\n"));
  assert_non_null(strstr(t, "/disk.qcow2\n"));
  free(t);
  free(a);
  a = h2k_path_join(f->dir, "args");
  t = h2k_read_file(a, 65536, NULL, &(h2k_error){0});
  assert_non_null(strstr(t, "user,id=n0,restrict=on\n"));
  assert_non_null(strstr(t, "/work/overlay-disk0.qcow2,format=qcow2"));
  free(t);
  free(a);
}

static void test_login_without_network(void **state) {
  fixture *f = *state;
  double s;
  assert_int_equal(run(f, "login", &s), 0);
  assert_int_equal(f->res.status, H2K_VAL_FAILED);
  assert_int_equal(f->res.boot, H2K_VBOOT_YES);
  assert_false(f->res.network);
  assert_non_null(strstr(f->res.reason, "sent no DHCP request"));
  assert_non_null(strstr(f->res.reason, MAC));
  assert_true(s >= 1 && s < 4); /* the network wait, not the boot timeout */
  assert_gone(f);
}

static void test_initramfs_alert(void **state) {
  fixture *f = *state;
  f->o.timeout_s = 60;
  double s;
  assert_int_equal(run(f, "alert", &s), 0);
  assert_int_equal(f->res.status, H2K_VAL_FAILED);
  assert_int_equal(f->res.boot, H2K_VBOOT_NO);
  assert_non_null(strstr(f->res.reason, "/dev/sda1 does not exist"));
  assert_non_null(strstr(f->res.serial_tail, "  | (initramfs)\n"));
  assert_true(s < 10); /* early stop, long before the 60 s timeout */
  assert_gone(f);
}

static void test_silent_timeout(void **state) {
  fixture *f = *state;
  double s;
  assert_int_equal(run(f, "silent", &s), 0);
  assert_int_equal(f->res.status, H2K_VAL_FAILED);
  assert_int_equal(f->res.boot, H2K_VBOOT_UNKNOWN);
  assert_false(f->res.serial_output);
  assert_non_null(strstr(f->res.reason, "no serial output at all"));
  assert_true(s >= 2 && s < 5);
  assert_gone(f);
}

static void test_silent_with_dhcp(void **state) {
  fixture *f = *state;
  f->o.timeout_s = 60;
  double s;
  assert_int_equal(run(f, "silent-dhcp", &s), 0);
  assert_int_equal(f->res.status, H2K_VAL_PASSED);
  assert_int_equal(f->res.boot, H2K_VBOOT_UNKNOWN);
  assert_true(f->res.network);
  assert_non_null(strstr(f->res.reason, "boot not confirmed"));
  assert_true(s < 5); /* DHCP + the network wait, not the timeout */
  assert_gone(f);
}

static void test_qemu_crash(void **state) {
  fixture *f = *state;
  double s;
  assert_int_equal(run(f, "crash", &s), 0);
  assert_int_equal(f->res.status, H2K_VAL_FAILED);
  assert_int_equal(f->res.boot, H2K_VBOOT_NO);
  assert_non_null(strstr(f->res.reason, "exit status 1"));
  assert_non_null(strstr(f->res.reason, "could not load PC BIOS"));
  assert_gone(f);
}

static void test_guest_reboot(void **state) {
  fixture *f = *state;
  double s;
  assert_int_equal(run(f, "reboot", &s), 0);
  assert_int_equal(f->res.boot, H2K_VBOOT_NO);
  assert_non_null(strstr(f->res.reason, "rebooted or powered off"));
}

static void test_stubborn_qemu_killed(void **state) {
  fixture *f = *state;
  f->o.timeout_s = 1;
  double s;
  assert_int_equal(run(f, "stubborn", &s), 0);
  assert_int_equal(f->res.status, H2K_VAL_FAILED);
  assert_true(s >= 5); /* SIGTERM ignored: SIGKILL after the grace period */
  assert_gone(f);
}

static void *cancel_soon(void *arg) {
  usleep(700 * 1000);
  atomic_store((atomic_bool *)arg, true);
  return NULL;
}

static void test_cancel(void **state) {
  fixture *f = *state;
  f->o.timeout_s = 60;
  pthread_t t;
  pthread_create(&t, NULL, cancel_soon, &f->cancel);
  double s;
  assert_int_equal(run(f, "silent", &s), -H2K_E_CANCELLED);
  pthread_join(t, NULL);
  assert_true(s < 5);
  assert_true(f->res.ran);
  assert_gone(f);
}

static void test_overlay_refused(void **state) {
  fixture *f = *state;
  double s;
  assert_int_equal(run(f, "img-fail", &s), 0);
  assert_int_equal(f->res.status, H2K_VAL_FAILED);
  assert_false(f->res.ran);
  assert_non_null(strstr(f->res.reason, "qemu-img could not put an overlay"));
  assert_non_null(strstr(f->res.reason, "Image is corrupt"));
}

static void test_uefi_vars_copied(void **state) {
  fixture *f = *state;
  char *code = write_script(f->dir, "CODE.fd", "code");
  char *vars = write_script(f->dir, "VARS.fd", "vars-template");
  f->o.uefi = true;
  f->o.ovmf_code = code;
  f->o.ovmf_vars = vars;
  double s;
  assert_int_equal(run(f, "login-dhcp", &s), 0);
  assert_string_equal(f->res.firmware, "uefi");
  char *copy = h2k_path_join(f->work, "OVMF_VARS.fd");
  char *t = h2k_read_file(copy, 64, NULL, &(h2k_error){0});
  assert_string_equal(t, "vars-template");
  free(t);
  char *a = h2k_path_join(f->dir, "args");
  t = h2k_read_file(a, 65536, NULL, &(h2k_error){0});
  assert_non_null(strstr(t, "readonly=on,file="));
  assert_non_null(strstr(t, "/work/OVMF_VARS.fd\n"));
  free(t);
  free(a);
  free(copy);
  free(code);
  free(vars);
}

static void test_helpers(void **state) {
  fixture *f = *state;
  char *old = strdup(getenv("PATH") ? getenv("PATH") : "");
  char *path = h2k_strdup_printf("/nonexistent::%s", f->dir);
  setenv("PATH", path, 1);
  char *q = h2k_find_in_path("qemu-system-x86_64");
  assert_non_null(q);
  assert_string_equal(q, f->qemu);
  free(q);
  assert_null(h2k_find_in_path("dhcp.pcap")); /* not executable */
  assert_null(h2k_find_in_path("no-such-tool-h2k"));
  setenv("PATH", old, 1);
  free(path);
  free(old);
  (void)h2k_kvm_usable(); /* either answer; must not crash */
  /* boot sector: raw images with and without 0x55AA */
  uint8_t sec[4096] = {0};
  char *raw = h2k_path_join(f->dir, "disk.raw");
  h2k_error err = {0};
  assert_int_equal(h2k_write_file_atomic(raw, sec, sizeof sec, 0644, &err), 0);
  assert_int_equal(h2k_disk_has_boot_sector(raw, &err), 0);
  sec[510] = 0x55;
  sec[511] = 0xaa;
  assert_int_equal(h2k_write_file_atomic(raw, sec, sizeof sec, 0644, &err), 0);
  assert_int_equal(h2k_disk_has_boot_sector(raw, &err), 1);
  free(raw);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_login_and_dhcp),   T(test_login_without_network),
      T(test_initramfs_alert),  T(test_silent_timeout),
      T(test_silent_with_dhcp), T(test_qemu_crash),
      T(test_guest_reboot),     T(test_stubborn_qemu_killed),
      T(test_cancel),           T(test_overlay_refused),
      T(test_uefi_vars_copied), T(test_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
