/* Small parsers and file helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/fsutil.h"
#include "core/hash.h"
#include "core/util.h"

static void test_parse_size(void **state) {
  (void)state;
  uint64_t v;
  assert_int_equal(h2k_parse_size("512", &v), 0);
  assert_int_equal(v, 512);
  assert_int_equal(h2k_parse_size("4K", &v), 0);
  assert_int_equal(v, 4096);
  assert_int_equal(h2k_parse_size("1.5G", &v), 0);
  assert_int_equal(v, 1610612736ULL);
  assert_int_equal(h2k_parse_size("2GiB", &v), 0);
  assert_int_equal(v, 2147483648ULL);
  assert_int_equal(h2k_parse_size("10X", &v), -1);
  assert_int_equal(h2k_parse_size("-1", &v), -1);
  assert_int_equal(h2k_parse_size("", &v), -1);
}

static void test_parse_duration(void **state) {
  (void)state;
  uint64_t s;
  assert_int_equal(h2k_parse_duration("90s", &s), 0);
  assert_int_equal(s, 90);
  assert_int_equal(h2k_parse_duration("30m", &s), 0);
  assert_int_equal(s, 1800);
  assert_int_equal(h2k_parse_duration("24h", &s), 0);
  assert_int_equal(s, 86400);
  assert_int_equal(h2k_parse_duration("7d", &s), 0);
  assert_int_equal(s, 604800);
  assert_int_equal(h2k_parse_duration("15", &s), 0);
  assert_int_equal(s, 15);
  assert_int_equal(h2k_parse_duration("3y", &s), -1);
  assert_int_equal(h2k_parse_duration("h", &s), -1);
  assert_int_equal(h2k_parse_duration("1hh", &s), -1);
}

static void test_parse_bool_int(void **state) {
  (void)state;
  bool b;
  assert_int_equal(h2k_parse_bool("Yes", &b), 0);
  assert_true(b);
  assert_int_equal(h2k_parse_bool("off", &b), 0);
  assert_false(b);
  assert_int_equal(h2k_parse_bool("maybe", &b), -1);
  long long i;
  assert_int_equal(h2k_parse_int("42", 0, 100, &i), 0);
  assert_int_equal(i, 42);
  assert_int_equal(h2k_parse_int("101", 0, 100, &i), -1);
  assert_int_equal(h2k_parse_int("4x", 0, 100, &i), -1);
}

static void test_paths(void **state) {
  (void)state;
  setenv("HOME", "/home/u", 1);
  char *p = h2k_expand_home("~/a/b");
  assert_string_equal(p, "/home/u/a/b");
  free(p);
  p = h2k_expand_home("/x/~");
  assert_string_equal(p, "/x/~");
  free(p);
  p = h2k_path_stem("/v/web01.disk.vmdk");
  assert_string_equal(p, "web01.disk");
  free(p);
  p = h2k_path_join("/a/", "b");
  assert_string_equal(p, "/a/b");
  free(p);
}

static void test_atomic_write_and_remove(void **state) {
  (void)state;
  char dir[] = "/tmp/h2k-util-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char *sub = h2k_path_join(dir, "x/y/z");
  h2k_error err = {0};
  assert_int_equal(h2k_mkdir_p(sub, 0700, &err), 0);
  struct stat st;
  assert_int_equal(stat(sub, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
  char *f = h2k_path_join(sub, "file");
  assert_int_equal(h2k_write_file_atomic(f, "hello", 5, 0640, &err), 0);
  size_t len;
  char *text = h2k_read_file(f, 100, &len, &err);
  assert_string_equal(text, "hello");
  free(text);
  assert_int_equal(stat(f, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0640);
  assert_null(h2k_read_file(f, 3, &len, &err)); /* larger than max */
  assert_int_equal(h2k_remove_tree(dir), 0);
  assert_false(h2k_path_exists(dir));
  free(f);
  free(sub);
}

static void test_sha256(void **state) {
  (void)state;
  char hex[65];
  h2k_sha256_hex("abc", 3, hex);
  assert_string_equal(
      hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_free_space_injection(void **state) {
  (void)state;
  h2k_error err = {0};
  uint64_t fb, id;
  setenv("HYPER2KVM_TEST_FREE_BYTES", "1M", 1);
  assert_int_equal(h2k_free_space("/tmp/does/not/exist/yet", &fb, &id, &err),
                   0);
  assert_int_equal(fb, 1048576);
  unsetenv("HYPER2KVM_TEST_FREE_BYTES");
  assert_int_equal(h2k_free_space("/tmp", &fb, &id, &err), 0);
  assert_true(fb > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_size),
      cmocka_unit_test(test_parse_duration),
      cmocka_unit_test(test_parse_bool_int),
      cmocka_unit_test(test_paths),
      cmocka_unit_test(test_atomic_write_and_remove),
      cmocka_unit_test(test_sha256),
      cmocka_unit_test(test_free_space_injection),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
