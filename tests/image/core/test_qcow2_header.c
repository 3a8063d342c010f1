/* Unit tests for the pure parts of the image engine: the qcow2 header
 * parser on crafted buffers, and file-view helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "image/file.h"
#include "image/image.h"
#include "image/qcow2.h"

#define FILE_SIZE (UINT64_C(1) << 30)

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)(v >> 32));
  put32(p + 4, (uint32_t)v);
}

/* A valid v3 header: 1 GiB disk, 64 KiB clusters, L1 at 192 KiB. */
static void make_v3(uint8_t *b) {
  memset(b, 0, 112);
  put32(b, QCOW2_MAGIC);
  put32(b + 4, 3);
  put32(b + 20, 16);
  put64(b + 24, UINT64_C(1) << 30);
  put32(b + 36, 2);
  put64(b + 40, 3 * 65536);
  put64(b + 48, 65536);
  put32(b + 56, 1);
  put32(b + 96, 4);
  put32(b + 100, 112);
}

static int parse(const uint8_t *b, size_t len, struct h2k_qcow2_header *h,
                 h2k_error *err) {
  h2k_err_clear(err);
  return h2k_qcow2_parse_header(b, len, FILE_SIZE, "t.qcow2", h, err);
}

static void expect_error(const uint8_t *b, size_t len, const char *want) {
  struct h2k_qcow2_header h;
  h2k_error err;
  assert_int_equal(parse(b, len, &h, &err), -1);
  assert_int_not_equal(err.code, H2K_OK);
  if (!strstr(err.message, want))
    fail_msg("message '%s' lacks '%s'", err.message, want);
}

static void test_valid_v3(void **state) {
  (void)state;
  uint8_t b[112];
  make_v3(b);
  struct h2k_qcow2_header h;
  h2k_error err;
  assert_int_equal(parse(b, sizeof b, &h, &err), 0);
  assert_int_equal(h.version, 3);
  assert_int_equal(h.cluster_bits, 16);
  assert_true(h.size == UINT64_C(1) << 30);
  assert_int_equal(h.l1_size, 2);
  assert_int_equal(h.header_length, 112);
  assert_int_equal(h.compression_type, QCOW2_COMPRESSION_ZLIB);
}

static void test_valid_v2(void **state) {
  (void)state;
  uint8_t b[112];
  make_v3(b);
  put32(b + 4, 2);
  struct h2k_qcow2_header h;
  h2k_error err;
  assert_int_equal(parse(b, 72, &h, &err), 0);
  assert_int_equal(h.version, 2);
  assert_int_equal(h.refcount_order, 4);
  assert_int_equal(h.header_length, 72);
}

static void test_zstd(void **state) {
  (void)state;
  uint8_t b[112];
  make_v3(b);
  b[104] = QCOW2_COMPRESSION_ZSTD;
  expect_error(b, sizeof b, "disagrees with incompatible feature bit 3");
  put64(b + 72, QCOW2_INCOMPAT_COMPRESSION);
  struct h2k_qcow2_header h;
  h2k_error err;
  assert_int_equal(parse(b, sizeof b, &h, &err), 0);
  assert_int_equal(h.compression_type, QCOW2_COMPRESSION_ZSTD);
  b[104] = 7;
  expect_error(b, sizeof b, "unknown compression_type 7");
}

static void test_truncated(void **state) {
  (void)state;
  uint8_t b[112];
  make_v3(b);
  expect_error(b, 0, "truncated");
  expect_error(b, 71, "truncated");
  expect_error(b, 100, "truncated");
  b[0] = 'X';
  expect_error(b, sizeof b, "not a qcow2 image");
}

static void test_bad_fields(void **state) {
  (void)state;
  uint8_t b[112];
  make_v3(b);
  put32(b + 4, 1);
  expect_error(b, sizeof b, "unsupported version 1");
  make_v3(b);
  put32(b + 20, 22);
  expect_error(b, sizeof b, "invalid cluster_bits 22");
  put32(b + 20, 8);
  expect_error(b, sizeof b, "invalid cluster_bits 8");
  make_v3(b);
  put64(b + 24, UINT64_MAX);
  expect_error(b, sizeof b, "exceeds the limit");
  make_v3(b);
  put32(b + 36, 1);
  expect_error(b, sizeof b, "too small");
  make_v3(b);
  put32(b + 36, 0xffffffffu);
  expect_error(b, sizeof b, "too large");
  make_v3(b);
  put64(b + 40, 3 * 65536 + 8);
  expect_error(b, sizeof b, "unaligned or past end of file");
  make_v3(b);
  put64(b + 40, FILE_SIZE);
  expect_error(b, sizeof b, "unaligned or past end of file");
  make_v3(b);
  put64(b + 48, 100);
  expect_error(b, sizeof b, "invalid refcount table");
  make_v3(b);
  put32(b + 96, 7);
  expect_error(b, sizeof b, "invalid refcount_order 7");
  make_v3(b);
  put32(b + 100, 50);
  expect_error(b, sizeof b, "invalid header_length 50");
  make_v3(b);
  put32(b + 32, 2);
  expect_error(b, sizeof b, "encrypted");
  make_v3(b);
  put64(b + 72, QCOW2_INCOMPAT_DATA_FILE);
  expect_error(b, sizeof b, "external data file");
  make_v3(b);
  put64(b + 72, QCOW2_INCOMPAT_EXTL2);
  expect_error(b, sizeof b, "extended L2");
  make_v3(b);
  put64(b + 72, UINT64_C(1) << 40);
  expect_error(b, sizeof b, "unknown incompatible features");
  make_v3(b);
  put64(b + 8, 65536 - 4);
  put32(b + 16, 10);
  expect_error(b, sizeof b, "backing file name location");
  put32(b + 16, 2000);
  put64(b + 8, 512);
  expect_error(b, sizeof b, "backing file name location");
}

static void test_tolerated(void **state) {
  (void)state;
  uint8_t b[112];
  make_v3(b);
  put64(b + 72, QCOW2_INCOMPAT_DIRTY);
  struct h2k_qcow2_header h;
  h2k_error err;
  assert_int_equal(parse(b, sizeof b, &h, &err), 0);
  /* An empty disk needs no L1 table at all. */
  make_v3(b);
  put64(b + 24, 0);
  put32(b + 36, 0);
  put64(b + 40, 0);
  assert_int_equal(parse(b, sizeof b, &h, &err), 0);
}

static void test_l1_entries(void **state) {
  (void)state;
  assert_true(h2k_qcow2_l1_entries_for(0, 16) == 0);
  assert_true(h2k_qcow2_l1_entries_for(1, 16) == 1);
  assert_true(h2k_qcow2_l1_entries_for(UINT64_C(512) << 20, 16) == 1);
  assert_true(h2k_qcow2_l1_entries_for((UINT64_C(512) << 20) + 1, 16) == 2);
  assert_true(h2k_qcow2_l1_entries_for(UINT64_C(1) << 20, 9) == 32);
}

static void test_sibling(void **state) {
  (void)state;
  h2k_file f = {.path = "/a/b/top.qcow2"};
  char *s = h2k_file_sibling(&f, "base.qcow2");
  assert_string_equal(s, "/a/b/base.qcow2");
  free(s);
  s = h2k_file_sibling(&f, "/abs/base.raw");
  assert_string_equal(s, "/abs/base.raw");
  free(s);
  h2k_file g = {.path = "top.qcow2"};
  s = h2k_file_sibling(&g, "../base");
  assert_string_equal(s, "../base");
  free(s);
}

static void test_pread_bounds(void **state) {
  (void)state;
  char path[] = "/tmp/h2k-unit-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "0123456789", 10), 10);
  close(fd);
  h2k_error err = {0};
  h2k_file *f = h2k_file_open_range(path, 2, 6, &err);
  assert_non_null(f);
  char buf[8];
  assert_int_equal(h2k_file_pread(f, buf, 6, 0, "thing", &err), 0);
  assert_memory_equal(buf, "234567", 6);
  assert_int_equal(h2k_file_pread(f, buf, 2, 5, "grain table", &err), -1);
  assert_int_equal(err.code, H2K_E_INPUT);
  assert_non_null(strstr(err.message, "reading grain table at offset 5 (len "
                                      "2) past end of file (size 6)"));
  assert_int_equal(h2k_file_pread(f, buf, 1, UINT64_MAX, "overflow", &err), -1);
  h2k_file_close(f);
  assert_null(h2k_file_open_range(path, 4, 7, &err));
  assert_non_null(strstr(err.message, "past end of file"));
  unlink(path);
}

/* A raw disk that is a byte range of a sparse file: holes read as zeros
 * and are reported as ZERO, in view coordinates. */
static void test_raw_range_view(void **state) {
  (void)state;
  char path[] = "/tmp/h2k-unit-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  uint8_t block[65536];
  memset(block, 0xab, sizeof block);
  assert_int_equal(ftruncate(fd, 4 << 20), 0);
  assert_int_equal(pwrite(fd, block, sizeof block, 1 << 20),
                   (ssize_t)sizeof block);
  close(fd);
  h2k_error err = {0};
  h2k_file *f = h2k_file_open_range(path, 512 << 10, 1 << 20, &err);
  assert_non_null(f);
  h2k_image *img = h2k_image_open_file(f, "raw", &err);
  h2k_file_close(f);
  assert_non_null(img);
  assert_true(h2k_image_virtual_size(img) == 1 << 20);
  h2k_extent x;
  assert_int_equal(h2k_image_block_status(img, 0, 1 << 20, &x, &err), 0);
  assert_int_equal(x.kind, H2K_EXTENT_ZERO);
  assert_true(x.length == 512 << 10);
  assert_int_equal(h2k_image_block_status(img, 512 << 10, 512 << 10, &x, &err),
                   0);
  assert_int_equal(x.kind, H2K_EXTENT_DATA);
  assert_true(x.length == 65536);
  assert_int_equal(h2k_image_block_status(img, 576 << 10, 448 << 10, &x, &err),
                   0);
  assert_int_equal(x.kind, H2K_EXTENT_ZERO);
  assert_true(x.length == 448 << 10);
  uint8_t buf[8];
  assert_int_equal(h2k_image_read(img, (512 << 10) - 4, buf, 8, &err), 0);
  const uint8_t want[8] = {0, 0, 0, 0, 0xab, 0xab, 0xab, 0xab};
  assert_memory_equal(buf, want, 8);
  assert_int_equal(h2k_image_read(img, (1 << 20) - 4, buf, 8, &err), -1);
  h2k_image_close(img);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_v3),
      cmocka_unit_test(test_valid_v2),
      cmocka_unit_test(test_zstd),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_bad_fields),
      cmocka_unit_test(test_tolerated),
      cmocka_unit_test(test_l1_entries),
      cmocka_unit_test(test_sibling),
      cmocka_unit_test(test_pread_bounds),
      cmocka_unit_test(test_raw_range_view),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
