/* Conversion directory: creation mode, unsafe directories, cleanup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/fsutil.h"
#include "core/util.h"
#include "job/convdir.h"

static char base[64];

static int setup(void **state) {
  (void)state;
  snprintf(base, sizeof base, "/tmp/h2k-convdir-XXXXXX");
  return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  return h2k_remove_tree(base);
}

static void test_created_0700_with_parents(void **state) {
  (void)state;
  char *dir = h2k_path_join(base, "home/.cache/hyper2kvm/conversions");
  h2k_error err = {0};
  umask(022);
  assert_int_equal(h2k_convdir_prepare(dir, &err), 0);
  struct stat st;
  assert_int_equal(stat(dir, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0700);
  /* a second call accepts the directory it made */
  assert_int_equal(h2k_convdir_prepare(dir, &err), 0);
  free(dir);
}

static void test_refuses_world_and_group_writable(void **state) {
  (void)state;
  char *dir = h2k_path_join(base, "shared");
  h2k_error err = {0};
  assert_int_equal(mkdir(dir, 0700), 0);
  assert_int_equal(chmod(dir, 0777), 0);
  assert_int_equal(h2k_convdir_prepare(dir, &err), -1);
  assert_int_equal(err.code, H2K_E_ENV);
  assert_non_null(strstr(err.message, "world-writable"));
  assert_non_null(strstr(err.message, "--conversion-dir"));
  assert_int_equal(chmod(dir, 0770), 0);
  assert_int_equal(h2k_convdir_prepare(dir, &err), -1);
  assert_non_null(strstr(err.message, "group-writable"));
  assert_int_equal(chmod(dir, 0700), 0);
  assert_int_equal(h2k_convdir_prepare(dir, &err), 0);
  free(dir);
}

static void test_refuses_other_owner(void **state) {
  (void)state;
  char *dir = h2k_path_join(base, "theirs");
  h2k_error err = {0};
  assert_int_equal(mkdir(dir, 0700), 0);
  if (geteuid() == 0) {
    /* As root we can hand it to someone else. */
    assert_int_equal(chown(dir, 65534, 65534), 0);
    assert_int_equal(h2k_convdir_prepare(dir, &err), -1);
    assert_non_null(strstr(err.message, "owned by uid 65534"));
  } else {
    /* As a user, /tmp itself is owned by root and world-writable. */
    assert_int_equal(h2k_convdir_prepare("/tmp", &err), -1);
  }
  free(dir);
}

static void test_refuses_file_and_symlink(void **state) {
  (void)state;
  h2k_error err = {0};
  char *file = h2k_path_join(base, "afile");
  assert_int_equal(h2k_write_file_atomic(file, "x", 1, 0600, &err), 0);
  assert_int_equal(h2k_convdir_prepare(file, &err), -1);
  assert_non_null(strstr(err.message, "not a directory"));
  char *link = h2k_path_join(base, "alink");
  assert_int_equal(symlink("/tmp", link), 0);
  assert_int_equal(h2k_convdir_prepare(link, &err), -1);
  free(file);
  free(link);
}

static void make_job(const char *root, const char *name, time_t age) {
  char *dir = h2k_path_join(root, name);
  h2k_error err = {0};
  int fd = h2k_jobdir_open(dir, &err);
  assert_true(fd >= 0);
  h2k_jobdir_close(fd);
  char *f = h2k_path_join(dir, "checkpoint.json");
  h2k_write_file_atomic(f, "{}", 2, 0600, &err);
  struct timeval tv[2] = {{time(NULL) - age, 0}, {time(NULL) - age, 0}};
  const char *names[] = {"checkpoint.json", "lock", H2K_JOB_MARKER, ""};
  for (size_t i = 0; i < 4; i++) {
    char *p = h2k_path_join(dir, names[i]);
    utimes(p, tv);
    free(p);
  }
  utimes(dir, tv);
  free(f);
  free(dir);
}

static void test_cleanup_removes_only_stale_jobs(void **state) {
  (void)state;
  char *root = h2k_path_join(base, "conv");
  h2k_error err = {0};
  assert_int_equal(h2k_convdir_prepare(root, &err), 0);
  make_job(root, "old.aaaa", 3 * 86400);
  make_job(root, "new.bbbb", 60);
  make_job(root, "busy.cccc", 3 * 86400);
  /* a directory that is not a job, and a plain file: never touched */
  char *other = h2k_path_join(root, "not-a-job");
  mkdir(other, 0700);
  char *busy = h2k_path_join(root, "busy.cccc");
  int lock = h2k_jobdir_open(busy, &err); /* a running job holds the lock */
  assert_true(lock >= 0);
  int removed, kept;
  assert_int_equal(
      h2k_convdir_cleanup(root, 86400, true, &removed, &kept, &err), 0);
  assert_int_equal(removed, 1); /* dry run: counted, not removed */
  char *old = h2k_path_join(root, "old.aaaa");
  assert_true(h2k_path_exists(old));
  assert_int_equal(
      h2k_convdir_cleanup(root, 86400, false, &removed, &kept, &err), 0);
  assert_int_equal(removed, 1);
  assert_int_equal(kept, 2);
  assert_false(h2k_path_exists(old));
  char *newer = h2k_path_join(root, "new.bbbb");
  assert_true(h2k_path_exists(newer));
  assert_true(h2k_path_exists(busy));
  assert_true(h2k_path_exists(other));
  h2k_jobdir_close(lock);
  /* the job lock of a second process is refused while held */
  int l1 = h2k_jobdir_open(newer, &err);
  assert_true(l1 >= 0);
  assert_int_equal(h2k_jobdir_open(newer, &err), -1);
  assert_non_null(strstr(err.message, "locked"));
  h2k_jobdir_close(l1);
  free(old);
  free(newer);
  free(busy);
  free(other);
  free(root);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_created_0700_with_parents, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_refuses_world_and_group_writable,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_refuses_other_owner, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_refuses_file_and_symlink, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_cleanup_removes_only_stale_jobs,
                                      setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
